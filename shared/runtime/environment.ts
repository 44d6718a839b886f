import { KafkaClient } from "@aws-sdk/client-kafka";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { TopicMessages } from "kafkajs";
import { createDocumentClient } from "../dynamodb/client.ts";
import { resolveKafkaConnection } from "../kafka/msk-connection.ts";
import { ReusableProducer } from "../kafka/producer.ts";
import { pipelineNamed } from "../pipelines/index.ts";
import { DynamoDbWindowStore } from "../store/dynamodb-window-store.ts";
import type { HandlerDeps } from "./handlers.ts";
import { observability } from "./observability.ts";

/**
 * Builds a function's dependencies from its environment, once per Lambda container: the
 * pipeline (`PIPELINE_NAME`), the state table (`STATE_TABLE_NAME`), and one Kafka producer whose
 * connection is resolved on first use (see `resolveKafkaConnection`) and then reused.
 */
export function depsFromEnvironment(
  functionName: string,
  env: NodeJS.ProcessEnv = process.env,
): HandlerDeps {
  const pipeline = pipelineNamed(env.PIPELINE_NAME);
  const tableName = env.STATE_TABLE_NAME;
  if (!tableName)
    throw new Error("STATE_TABLE_NAME is not set: the name of the sparkless state table");
  const producer = new ReusableProducer(
    () =>
      resolveKafkaConnection({
        env,
        secrets: new SecretsManagerClient({}),
        msk: new KafkaClient({}),
      }),
    `sparkless-${functionName}`,
  );
  const { logger, metrics } = observability(functionName, pipeline.name);
  return {
    pipeline,
    store: new DynamoDbWindowStore(createDocumentClient(), tableName),
    send: (messages: TopicMessages[]) => producer.send(messages),
    nowMs: Date.now,
    logger,
    metrics,
    ...sourcePartitionsFrom(env),
  };
}

/**
 * `SOURCE_PARTITIONS` (set by the stack from context `sparkless:sourcePartitions`): how many
 * source partitions feed the pipeline, so a window partition's watermark waits for all of them
 * (at most `sourceIdle`) before moving. Unset: it moves on what it has heard of.
 */
function sourcePartitionsFrom(env: NodeJS.ProcessEnv): { expectedSources?: number } {
  const text = env.SOURCE_PARTITIONS;
  if (text === undefined || text === "") return {};
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(
      `SOURCE_PARTITIONS is '${text}': it must be a positive integer, the number of source ` +
        "partitions (set it with -c sparkless:sourcePartitions=N, or leave it unset)",
    );
  }
  return { expectedSources: count };
}
