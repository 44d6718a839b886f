// A local pipeline in a process of its own, for crash tests: the test kills it with SIGKILL at
// random moments and starts it again. Its settings come from SPARKLESS_TEST_PIPELINE (JSON). It
// prints `running` once started, then a JSON line of its totals every 100 ms (what it processed
// so far: the test kills it while it works).
import { startLocalPipeline } from "../../../localstack/local-pipeline.ts";
import type { KafkaConnection } from "../../../shared/kafka/connection.ts";
import { tracePipeline } from "./trace-pipeline.ts";

/** What the crash test hands the process. */
export interface PipelineProcessSettings {
  readonly name: string;
  readonly kafka: KafkaConnection;
  readonly dynamoDbEndpoint: string | undefined;
  readonly tableName: string;
  /** The mappings' group session timeout: how soon a killed process's partitions move on. */
  readonly sessionTimeoutMs?: number;
}

/** One line of the process's output after `running`. */
export interface PipelineProcessReport {
  readonly parseIn: number;
  readonly windowIn: number;
  readonly invocations: number;
}

const settings = JSON.parse(process.env.SPARKLESS_TEST_PIPELINE ?? "{}") as PipelineProcessSettings;
const pipeline = tracePipeline(settings.name);
const local = await startLocalPipeline({
  pipeline,
  kafka: settings.kafka,
  dynamoDbEndpoint: settings.dynamoDbEndpoint,
  tableName: settings.tableName,
  fromEarliest: true,
  sourcePartitions: 1,
  flushEveryMs: 500,
  ...(settings.sessionTimeoutMs ? { sessionTimeoutMs: settings.sessionTimeoutMs } : {}),
});
console.log("running");
setInterval(() => {
  let invocations = 0;
  for (const runner of local.runners)
    for (const stats of Object.values(runner.snapshot())) invocations += stats.invocations;
  const report: PipelineProcessReport = {
    parseIn: local.totals.parse.in,
    windowIn: local.totals.window.in,
    invocations,
  };
  console.log(JSON.stringify(report));
}, 100);
