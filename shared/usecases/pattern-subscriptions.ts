/** A Kafka mapping of a pattern-subscribed pipeline, as the mapping service lists it. */
export interface PatternMapping {
  readonly id: string;
  readonly topic: string;
  readonly consumerGroupId: string;
}

/** Where the mappings live: Lambda's API on AWS, the local runner locally. */
export interface PatternMappings {
  /** The pipeline's parse/filter mappings that exist now. */
  list(): Promise<readonly PatternMapping[]>;
  /** Creates the mapping of one topic with its own consumer group; returns its id. */
  create(topic: string, consumerGroupId: string): Promise<string>;
  remove(mapping: PatternMapping): Promise<void>;
}

export interface PatternSubscriptionDeps {
  /** The pipeline's source pattern, anchored (`^(?:…)$`). */
  readonly pattern: RegExp;
  /** The consumer group of a topic's mapping: unique per pipeline, generation and topic. */
  readonly groupFor: (topic: string) => string;
  /** The cluster's topics now. */
  readonly listTopics: () => Promise<readonly string[]>;
  readonly mappings: PatternMappings;
  /** One line per mapping created or removed. */
  readonly log: (message: string, fields: Record<string, string>) => void;
}

export interface PatternSubscriptionResult {
  readonly created: readonly string[];
  readonly removed: readonly string[];
  readonly kept: readonly string[];
}

/**
 * Spark's `subscribePattern` over mappings that each read named topics: every topic matching the
 * pattern gets a mapping with its own consumer group, and a mapping whose topic no longer exists
 * (deleted) is removed. Mappings of topics that exist and match are kept as they are, so their
 * committed offsets carry on; a topic that appears later starts at its earliest offset, as Spark
 * reads a newly discovered topic. Only mappings whose group `groupFor` would name are touched.
 */
export async function reconcilePatternSubscriptions(
  deps: PatternSubscriptionDeps,
): Promise<PatternSubscriptionResult> {
  const topics = (await deps.listTopics()).filter((topic) => deps.pattern.test(topic));
  const existing = (await deps.mappings.list()).filter(
    (m) => m.consumerGroupId === deps.groupFor(m.topic),
  );
  const mapped = new Set(existing.map((m) => m.topic));
  const wanted = new Set(topics);
  const created: string[] = [];
  const removed: string[] = [];
  for (const topic of [...wanted].sort()) {
    if (mapped.has(topic)) continue;
    const id = await deps.mappings.create(topic, deps.groupFor(topic));
    deps.log("mapping created", { topic, consumerGroupId: deps.groupFor(topic), mapping: id });
    created.push(topic);
  }
  for (const mapping of existing) {
    if (wanted.has(mapping.topic)) continue;
    await deps.mappings.remove(mapping);
    deps.log("mapping removed", {
      topic: mapping.topic,
      consumerGroupId: mapping.consumerGroupId,
      mapping: mapping.id,
      reason: "the topic no longer exists or no longer matches",
    });
    removed.push(mapping.topic);
  }
  return { created, removed, kept: [...mapped].filter((t) => wanted.has(t)).sort() };
}
