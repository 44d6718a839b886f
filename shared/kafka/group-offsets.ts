import type { Admin } from "kafkajs";
import { KafkaConfigurationError } from "./errors.ts";

/** Spark's `startingOffsets` JSON: topic → partition → offset; −2 earliest, −1 latest. */
export type PartitionOffsets = Readonly<Record<string, Readonly<Record<number | string, number>>>>;

export const EARLIEST_OFFSET = -2;
export const LATEST_OFFSET = -1;

/** What `applyStartingOffsets` did for one consumer group. */
export interface StartingOffsetsResult {
  readonly groupId: string;
  /** `set`: the group had no committed offset and now starts there; `kept`: it had, and resumes. */
  readonly outcome: "set" | "kept";
  /** The offsets written (−2/−1 resolved), topic → partition → offset; empty when kept. */
  readonly offsets: Readonly<Record<string, Readonly<Record<number, number>>>>;
}

/**
 * Makes a consumer group start at per-partition offsets, the way Spark's `startingOffsets` JSON
 * does, by committing them on the group before any consumer joins. Lambda's Kafka mappings start
 * from the group's committed offsets when it has any and ignore `StartingPosition` then
 * (https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html),
 * so this is the only way to give a mapping a per-partition start. Like Spark, where the offsets
 * apply only to a new query, a group that already committed keeps its offsets: re-running this
 * on a restart or redeploy never rewinds a running pipeline. Refuses (naming what to fix) a topic
 * or partition the cluster does not have, a topic whose partitions are not all listed (Spark's
 * rule), and a group with members (Kafka only lets an empty group's offsets be set).
 */
export async function applyStartingOffsets(
  admin: Admin,
  groupId: string,
  offsets: PartitionOffsets,
): Promise<StartingOffsetsResult> {
  const topics = Object.keys(offsets);
  if (topics.length === 0)
    throw new KafkaConfigurationError(`starting offsets for group '${groupId}' name no topic`);
  const existing = new Set(await admin.listTopics());
  const unknown = topics.filter((t) => !existing.has(t));
  if (unknown.length > 0) {
    throw new KafkaConfigurationError(
      `starting offsets name topic(s) the cluster does not have: ${unknown.join(", ")}; fix source.startingPosition`,
    );
  }
  const metadata = await admin.fetchTopicMetadata({ topics });
  const wanted = new Map<string, Map<number, number>>();
  for (const { name, partitions } of metadata.topics) {
    const have = new Set(partitions.map((p) => p.partitionId));
    const given = new Map<number, number>();
    for (const [partition, offset] of Object.entries(offsets[name] ?? {})) {
      const id = Number(partition);
      if (!Number.isInteger(id) || !have.has(id)) {
        throw new KafkaConfigurationError(
          `starting offsets: topic '${name}' has no partition ${partition} (it has 0-${have.size - 1})`,
        );
      }
      if (!Number.isInteger(offset) || offset < EARLIEST_OFFSET) {
        throw new KafkaConfigurationError(
          `starting offsets: ${name}/${partition}: ${offset} is not an offset (a number ≥ 0, -2 earliest or -1 latest)`,
        );
      }
      given.set(id, offset);
    }
    const missing = [...have].filter((id) => !given.has(id)).sort((a, b) => a - b);
    if (missing.length > 0) {
      throw new KafkaConfigurationError(
        `starting offsets: topic '${name}' partition(s) ${missing.join(", ")} not given; as in Spark, ` +
          "list every partition (use -1 for latest, -2 for earliest)",
      );
    }
    wanted.set(name, given);
  }

  const committed = await retryingCoordinator(() => admin.fetchOffsets({ groupId, topics }));
  if (committed.some((t) => t.partitions.some((p) => Number(p.offset) >= 0))) {
    return { groupId, outcome: "kept", offsets: {} };
  }
  const { groups } = await retryingCoordinator(() => admin.describeGroups([groupId]));
  const members = groups[0]?.members.length ?? 0;
  if (members > 0) {
    throw new KafkaConfigurationError(
      `consumer group '${groupId}' has ${members} member(s) and no committed offsets: its starting offsets ` +
        "can only be set before any consumer joins. Stop (or delete) what consumes with this group, then retry",
    );
  }

  const written: Record<string, Record<number, number>> = {};
  for (const [topic, given] of wanted) {
    const ends = new Map(
      (await admin.fetchTopicOffsets(topic)).map((p) => [
        p.partition,
        { low: Number(p.low), high: Number(p.high) },
      ]),
    );
    const resolved: Record<number, number> = {};
    for (const [partition, offset] of given) {
      const end = ends.get(partition) ?? { low: 0, high: 0 };
      // An offset outside what the log holds would be reset by the consumer's auto.offset.reset:
      // clamp it to the log instead, so the start is what was asked or the nearest record.
      resolved[partition] =
        offset === EARLIEST_OFFSET
          ? end.low
          : offset === LATEST_OFFSET
            ? end.high
            : Math.min(Math.max(offset, end.low), end.high);
    }
    await retryingCoordinator(() =>
      admin.setOffsets({
        groupId,
        topic,
        partitions: Object.entries(resolved).map(([partition, offset]) => ({
          partition: Number(partition),
          offset: String(offset),
        })),
      }),
    );
    written[topic] = resolved;
  }
  return { groupId, outcome: "set", offsets: written };
}

/**
 * Runs a group call again while the broker answers with a retriable error: a cluster's first
 * group request (or one after a coordinator moves) gets NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS
 * until `__consumer_offsets` is ready, which kafkajs's admin does not always retry long enough.
 */
async function retryingCoordinator<T>(call: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let waitMs = 100; ; waitMs = Math.min(waitMs * 2, 2_000)) {
    try {
      return await call();
    } catch (error) {
      const retriable = (error as { retriable?: boolean }).retriable === true;
      if (!retriable || Date.now() + waitMs > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}
