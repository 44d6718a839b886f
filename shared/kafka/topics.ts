import type { Admin, ITopicConfig } from "kafkajs";

/**
 * A dead letter is the original record plus a few headers, so its topic accepts records a bit
 * larger than the broker's default 1 MB: a source record at the limit still fits.
 */
export const DEAD_LETTER_TOPIC_CONFIG = { "max.message.bytes": String(2 * 1024 * 1024) } as const;

/**
 * Results are keyed by the group key, as Spark writes them, so a user's windows share a key:
 * compaction would keep only each user's latest window. The output topic is therefore never
 * compacted (`delete`, stated explicitly so a redeploy also changes a topic created compacted).
 * https://kafka.apache.org/documentation/#compaction
 */
export const OUTPUT_TOPIC_CONFIG = { "cleanup.policy": "delete" } as const;

/** A topic the pipeline owns, with how it is made. */
export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  /** @default 1 locally; 3 on MSK (set by the deployment). */
  readonly replicationFactor?: number;
  /** Topic configs, e.g. `{ "cleanup.policy": "compact" }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/**
 * Creates the topics that do not exist yet and leaves existing ones alone (idempotent, safe to
 * run on every start). Returns the names it created.
 */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = specs
    .filter((spec) => !existing.has(spec.topic))
    .map((spec) => ({
      topic: spec.topic,
      numPartitions: spec.numPartitions,
      replicationFactor: spec.replicationFactor ?? 1,
      configEntries: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
    }));
  if (missing.length === 0) return [];
  await admin.createTopics({ topics: missing, waitForLeaders: true });
  return missing.map((t) => t.topic);
}
