// The default pipeline in a process of its own, so the bench can measure its memory apart from
// the bench's. Settings come from SPARKLESS_BENCH_PIPELINE (JSON). Prints "STARTING <ms>" when
// it begins to set up and connect (Spark's query start is the same moment) and "RUNNING <ms>".
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
}

const settings = JSON.parse(process.env.SPARKLESS_BENCH_PIPELINE ?? "{}") as Settings;
// Only the name and the topics change: batch sizes, partitions, watermark are the defaults.
const pipeline = definePipeline({
  ...userSpending.definition,
  name: settings.name,
  source: { ...userSpending.definition.source, topics: [settings.input] },
  output: { topic: settings.output },
  ...(settings.partitions === undefined ? {} : { partitions: settings.partitions }),
});
console.log(`STARTING ${Date.now()}`);
await startLocalPipeline({
  pipeline,
  kafka: settings.kafka,
  dynamoDbEndpoint: settings.dynamoDbEndpoint,
  tableName: settings.tableName,
  fromEarliest: true,
});
console.log(`RUNNING ${Date.now()}`);
setInterval(() => {}, 1 << 30);
