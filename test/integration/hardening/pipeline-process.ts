// A local pipeline in a process of its own, for crash tests: the test kills it with SIGKILL at
// random moments and starts it again. Its settings come from SPARKLESS_TEST_PIPELINE (JSON).
import { startLocalPipeline } from "../../../localstack/local-pipeline.ts";
import type { KafkaConnection } from "../../../shared/kafka/connection.ts";
import { tracePipeline } from "./trace-pipeline.ts";

interface Settings {
  name: string;
  kafka: KafkaConnection;
  dynamoDbEndpoint: string | undefined;
  tableName: string;
}

const settings = JSON.parse(process.env.SPARKLESS_TEST_PIPELINE ?? "{}") as Settings;
const pipeline = tracePipeline(settings.name);
await startLocalPipeline({
  pipeline,
  kafka: settings.kafka,
  dynamoDbEndpoint: settings.dynamoDbEndpoint,
  tableName: settings.tableName,
  fromEarliest: true,
  sourcePartitions: 1,
  flushEveryMs: 500,
});
console.log("running");
setInterval(() => {}, 1 << 30);
