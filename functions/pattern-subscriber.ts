import { Logger } from "@aws-lambda-powertools/logger";
import { KafkaClient } from "@aws-sdk/client-kafka";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { Kafka } from "kafkajs";
import { toKafkaJsConfig } from "../shared/kafka/connection.ts";
import { resolveKafkaConnection } from "../shared/kafka/msk-connection.ts";
import { lambdaKafkaMappings, mappingSettingsFor } from "../shared/lambda/kafka-mappings.ts";
import { reconcilePatternSubscriptions } from "../shared/usecases/pattern-subscriptions.ts";

const logger = new Logger({ serviceName: "sparkless-pattern-subscriber" });
const lambda = new LambdaClient({});
const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set (the stack sets it)`);
  return value;
};

/**
 * Keeps a pattern source's mappings (Spark's `subscribePattern`): on its schedule and at deploy
 * (a custom resource), one parse/filter mapping per matching topic, each with its own consumer
 * group and the stack's settings; on stack deletion, removes them all. A topic found at deploy
 * starts where the pipeline says; one found later starts at its earliest offset, as in Spark.
 */
export const handler = async (event: Partial<CloudFormationCustomResourceEvent>) => {
  const deploying = event.RequestType !== undefined;
  const physicalResourceId = "sparkless-pattern-subscriptions";
  const groupPrefix = env("GROUP_PREFIX");
  const pattern = new RegExp(env("TOPIC_PATTERN"));
  const mappings = lambdaKafkaMappings(
    lambda,
    env("TARGET_FUNCTION"),
    env("MSK_CLUSTER_ARN"),
    // Topics found at the stack's creation start where the pipeline says; later ones at earliest.
    () => mappingSettingsFor(env("MAPPING_SETTINGS"), event.RequestType !== "Create"),
  );
  const log = (message: string, fields: Record<string, string>) => logger.info(message, fields);
  if (event.RequestType === "Delete") {
    // The stack goes: its subscriber's mappings go with it (CloudFormation does not know them).
    for (const m of await mappings.list()) {
      if (!m.consumerGroupId.startsWith(groupPrefix)) continue;
      await mappings.remove(m);
      log("mapping removed", {
        topic: m.topic,
        consumerGroupId: m.consumerGroupId,
        mapping: m.id,
        reason: "stack deleted",
      });
    }
    return { PhysicalResourceId: event.PhysicalResourceId ?? physicalResourceId };
  }
  const connection = await resolveKafkaConnection({
    env: process.env,
    secrets: new SecretsManagerClient({}),
    msk: new KafkaClient({}),
  });
  const admin = new Kafka(toKafkaJsConfig(connection, "sparkless-pattern-subscriber")).admin();
  await admin.connect();
  try {
    const result = await reconcilePatternSubscriptions({
      pattern,
      groupFor: (topic) => `${groupPrefix}${topic}`,
      listTopics: () => admin.listTopics(),
      mappings,
      log,
    });
    logger.info("pattern subscriptions", { ...result });
    return deploying
      ? {
          PhysicalResourceId: physicalResourceId,
          Data: { Mapped: [...result.kept, ...result.created].join(",") },
        }
      : result;
  } finally {
    await admin.disconnect();
  }
};
