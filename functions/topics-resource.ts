import { KafkaClient } from "@aws-sdk/client-kafka";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { Kafka } from "kafkajs";
import { toKafkaJsConfig } from "../shared/kafka/connection.ts";
import { applyStartingOffsets } from "../shared/kafka/group-offsets.ts";
import { resolveKafkaConnection } from "../shared/kafka/msk-connection.ts";
import { reconcileTopics } from "../shared/kafka/topic-changes.ts";
import type { TopicSpec } from "../shared/kafka/topics.ts";

interface Properties {
  readonly Topics: TopicSpec[];
  /** Topics that must already exist (the sources of a pipeline on an existing cluster). */
  readonly RequiredTopics?: string[];
  /** Starting offsets to commit on the mappings' groups before the mappings exist (JSON text). */
  readonly GroupOffsets?: Array<{ readonly GroupId: string; readonly Offsets: string }>;
}

/**
 * Custom resource (through the CDK provider framework): keeps the pipeline's topics as the
 * deployment describes them — created, partitions added, configs changed — and fails the deploy
 * with a message for a missing source topic or a change Kafka cannot make in place; then commits
 * the per-partition starting offsets of mapping groups that have none yet. Delete keeps
 * the topics: their records are the pipeline's output, not the stack's to destroy.
 */
export const handler = async (event: CloudFormationCustomResourceEvent) => {
  const physicalResourceId =
    "PhysicalResourceId" in event ? event.PhysicalResourceId : "sparkless-topics";
  if (event.RequestType === "Delete") return { PhysicalResourceId: physicalResourceId };
  const {
    Topics,
    RequiredTopics = [],
    GroupOffsets = [],
  } = event.ResourceProperties as unknown as Properties;
  const connection = await resolveKafkaConnection({
    env: process.env,
    secrets: new SecretsManagerClient({}),
    msk: new KafkaClient({}),
  });
  const admin = new Kafka(toKafkaJsConfig(connection, "sparkless-topics")).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = RequiredTopics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      throw new Error(
        `Source topics missing on the cluster: ${missing.join(", ")}. Create them, or fix the pipeline's source.`,
      );
    }
    // CloudFormation passes numbers as strings.
    const changes = await reconcileTopics(
      admin,
      Topics.map((t) => ({
        ...t,
        numPartitions: Number(t.numPartitions),
        replicationFactor: Number(t.replicationFactor),
      })),
    );
    // After the topics exist, before the mappings (they depend on this resource) join the groups.
    const offsets: string[] = [];
    for (const { GroupId, Offsets } of GroupOffsets) {
      const result = await applyStartingOffsets(admin, GroupId, JSON.parse(Offsets));
      console.log(JSON.stringify({ message: "starting offsets", ...result }));
      offsets.push(`${GroupId}:${result.outcome}`);
    }
    return {
      PhysicalResourceId: physicalResourceId,
      Data: {
        StartingOffsets: offsets.join(","),
        Created: changes.created.join(","),
        PartitionsAdded: changes.partitionsAdded.join(","),
        ConfigsChanged: changes.configsChanged.join(","),
      },
    };
  } finally {
    await admin.disconnect();
  }
};
