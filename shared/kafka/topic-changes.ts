import { type Admin, ConfigResourceTypes } from "kafkajs";
import type { TopicSpec } from "./topics.ts";

/** A change the deployment asks for that Kafka cannot make in place; nothing was changed. */
export class TopicChangeRefused extends Error {
  override readonly name = "TopicChangeRefused";
}

/** What a reconciliation did, topic names per kind of change. */
export interface TopicChanges {
  readonly created: string[];
  readonly partitionsAdded: string[];
  readonly configsChanged: string[];
}

// kafkajs's ConfigSource for a config set on the topic itself (DYNAMIC_TOPIC_CONFIG).
const TOPIC_CONFIG_SOURCE = 1;

/**
 * Makes the cluster's topics match `specs`: creates missing topics, adds partitions, sets
 * changed configs (keeping configs an operator set by hand on the topic). Refuses, before
 * changing anything, what Kafka cannot do in place — fewer partitions, another replication
 * factor, more replicas than brokers — with a message saying what to do instead.
 */
export async function reconcileTopics(
  admin: Admin,
  specs: readonly TopicSpec[],
): Promise<TopicChanges> {
  const { brokers } = await admin.describeCluster();
  const existing = new Set(await admin.listTopics());
  const current = specs.filter((s) => existing.has(s.topic));
  const metadata = current.length
    ? (await admin.fetchTopicMetadata({ topics: current.map((s) => s.topic) })).topics
    : [];

  const refusals: string[] = [];
  const partitionsToAdd: Array<{ topic: string; count: number }> = [];
  for (const spec of specs) {
    const replicas = spec.replicationFactor ?? 1;
    if (replicas > brokers.length) {
      refusals.push(
        `topic ${spec.topic} asks for ${replicas} replicas but the cluster has ${brokers.length} brokers: set sparkless:replicationFactor to at most ${brokers.length}`,
      );
    }
    const found = metadata.find((t) => t.name === spec.topic);
    if (!found) continue;
    const partitions = found.partitions.length;
    if (spec.numPartitions < partitions) {
      refusals.push(
        `topic ${spec.topic} has ${partitions} partitions and Kafka cannot remove partitions: keep at least ${partitions}, or delete the topic (drained) and deploy again`,
      );
    } else if (spec.numPartitions > partitions) {
      partitionsToAdd.push({ topic: spec.topic, count: spec.numPartitions });
    }
    const replicasNow = found.partitions[0]?.replicas.length ?? replicas;
    if (replicasNow !== replicas) {
      refusals.push(
        `topic ${spec.topic} has ${replicasNow} replicas, the deployment asks for ${replicas}: changing it needs a partition reassignment (kafka-reassign-partitions), which the stack does not do; set sparkless:replicationFactor to ${replicasNow} or reassign by hand first`,
      );
    }
  }
  if (refusals.length > 0) throw new TopicChangeRefused(refusals.join("; "));

  const configChanges = await changedConfigs(admin, current);
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((spec) => ({
        topic: spec.topic,
        numPartitions: spec.numPartitions,
        replicationFactor: spec.replicationFactor ?? 1,
        configEntries: Object.entries(spec.configs ?? {}).map(([name, value]) => ({
          name,
          value,
        })),
      })),
    });
  }
  if (partitionsToAdd.length > 0)
    await admin.createPartitions({ topicPartitions: partitionsToAdd });
  if (configChanges.length > 0) {
    await admin.alterConfigs({
      validateOnly: false,
      resources: configChanges.map(({ topic, entries }) => ({
        type: ConfigResourceTypes.TOPIC,
        name: topic,
        configEntries: Object.entries(entries).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  return {
    created: missing.map((s) => s.topic),
    partitionsAdded: partitionsToAdd.map((p) => p.topic),
    configsChanged: configChanges.map((c) => c.topic),
  };
}

/**
 * The topics whose configs differ from their spec, each with the full set of topic-level configs
 * to write: AlterConfigs replaces a topic's configs, so those set on the topic are kept and the
 * spec's are laid over them.
 */
async function changedConfigs(
  admin: Admin,
  specs: readonly TopicSpec[],
): Promise<Array<{ topic: string; entries: Record<string, string> }>> {
  const withConfigs = specs.filter((s) => Object.keys(s.configs ?? {}).length > 0);
  if (withConfigs.length === 0) return [];
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: withConfigs.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.topic })),
  });
  const changes: Array<{ topic: string; entries: Record<string, string> }> = [];
  for (const spec of withConfigs) {
    const described = resources.find((r) => r.resourceName === spec.topic);
    const onTopic: Record<string, string> = {};
    const effective: Record<string, string> = {};
    for (const entry of described?.configEntries ?? []) {
      effective[entry.configName] = entry.configValue;
      if (entry.configSource === TOPIC_CONFIG_SOURCE) onTopic[entry.configName] = entry.configValue;
    }
    const wanted = spec.configs ?? {};
    if (Object.entries(wanted).some(([name, value]) => effective[name] !== value))
      changes.push({ topic: spec.topic, entries: { ...onTopic, ...wanted } });
  }
  return changes;
}
