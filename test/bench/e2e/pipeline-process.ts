// The default pipeline in a process of its own, so the bench can measure its memory apart from
// the bench's. Settings come from SPARKLESS_BENCH_PIPELINE (JSON). Prints "STARTING <ms>" when
// it begins to set up and connect (Spark's query start is the same moment) and "RUNNING <ms>".
// With `profileFile`, the per-stage profile is written there every half second.
import { writeFileSync } from "node:fs";
import { StageProfile } from "../../../localstack/esm/stage-profile.ts";
import { startLocalPipeline } from "../../../localstack/local-pipeline.ts";
import type { KafkaConnection } from "../../../shared/kafka/connection.ts";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";

interface Settings {
  name: string;
  input: string;
  output: string;
  kafka: KafkaConnection;
  dynamoDbEndpoint: string | undefined;
  tableName: string;
  /** Repartition partitions, when not the default's (README: `partitions: 1` for a backfill). */
  partitions?: number;
  /** Records per invocation, when not the default's (tuning runs only, never the bench's). */
  batchSize?: number;
  /** The watermark policy, when not the default's (tuning runs only). */
  watermarkFrom?: "max" | "sources";
  /** Where to write the per-stage profile (JSON), when the bench asks for one. */
  profileFile?: string;
}

const settings = JSON.parse(process.env.SPARKLESS_BENCH_PIPELINE ?? "{}") as Settings;
// Only the name and the topics change: batch sizes, partitions, watermark are the defaults.
const pipeline = definePipeline({
  ...userSpending.definition,
  name: settings.name,
  source: { ...userSpending.definition.source, topics: [settings.input] },
  output: { topic: settings.output },
  ...(settings.partitions === undefined ? {} : { partitions: settings.partitions }),
  ...(settings.watermarkFrom === undefined ? {} : { watermarkFrom: settings.watermarkFrom }),
  ...(settings.batchSize === undefined
    ? {}
    : {
        source: {
          ...userSpending.definition.source,
          topics: [settings.input],
          batchSize: settings.batchSize,
        },
      }),
});
console.log(`STARTING ${Date.now()}`);
const profile = settings.profileFile ? new StageProfile() : undefined;
if (profile && settings.profileFile) {
  const file = settings.profileFile;
  const write = () => writeFileSync(file, JSON.stringify(profile.snapshot()));
  setInterval(write, 500).unref();
}
// A clean exit on the bench's SIGTERM, so that `node --cpu-prof` writes its profile.
process.on("SIGTERM", () => process.exit(0));
await startLocalPipeline({
  ...(profile ? { profile } : {}),
  pipeline,
  kafka: settings.kafka,
  dynamoDbEndpoint: settings.dynamoDbEndpoint,
  tableName: settings.tableName,
  fromEarliest: true,
});
console.log(`RUNNING ${Date.now()}`);
setInterval(() => {}, 1 << 30);
