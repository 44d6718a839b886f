import type { Admin } from "kafkajs";
import { applyStartingOffsets } from "../shared/kafka/group-offsets.ts";
import type { Pipeline } from "../shared/pipeline/pipeline.ts";
import {
  groupStartingOffsets,
  type MappingStartingPosition,
} from "../shared/pipeline/starting-position.ts";
import {
  type PatternMapping,
  reconcilePatternSubscriptions,
} from "../shared/usecases/pattern-subscriptions.ts";
import type { EventSourceMappingRunner } from "./esm/runner.ts";

export interface PatternSourcesOptions {
  readonly pipeline: Pipeline;
  readonly admin: Admin;
  /** The parse/filter mapping of one topic (not started). */
  readonly runnerFor: (
    topic: string,
    consumerGroupId: string,
    startingPosition: MappingStartingPosition,
  ) => EventSourceMappingRunner;
  /** Where the topics matching at start begin (later ones begin at their earliest offset). */
  readonly startingPosition: MappingStartingPosition;
  /** Whether to commit the definition's per-partition offsets (not with --from-earliest). */
  readonly applyOffsets: boolean;
  /** Runners are added here as they start, removed as they stop (the live view reads it). */
  readonly runners: EventSourceMappingRunner[];
  /** How often the cluster's topics are listed again, as the deployed subscriber's schedule. */
  readonly everyMs: number;
}

/**
 * A pattern source run locally as it is deployed (functions/pattern-subscriber.ts): one mapping
 * per matching topic with its own consumer group, the topics listed again every `everyMs`, a
 * mapping started for each new match and stopped for each topic gone.
 */
export async function startPatternSources(options: PatternSourcesOptions) {
  const { pipeline, admin, runners } = options;
  const pattern = pipeline.topics.sourcePattern as RegExp;
  const byTopic = new Map<string, EventSourceMappingRunner>();
  let initial = true;
  const groupFor = (topic: string) => `sparkless-${pipeline.name}-parse-filter-${topic}`;
  const reconcile = () =>
    reconcilePatternSubscriptions({
      pattern,
      groupFor,
      listTopics: () => admin.listTopics(),
      log: () => undefined, // the live view owns the terminal; counts show in its totals
      mappings: {
        list: async (): Promise<PatternMapping[]> =>
          [...byTopic.entries()].map(([topic, runner]) => ({
            id: topic,
            topic,
            consumerGroupId: runner.config.consumerGroupId,
          })),
        create: async (topic, consumerGroupId) => {
          const offsets = groupStartingOffsets(pipeline.startingPosition, [topic]);
          if (initial && options.applyOffsets && offsets && Object.keys(offsets).length > 0)
            await applyStartingOffsets(admin, consumerGroupId, offsets);
          // Spark reads a topic discovered after the query started from its earliest offset.
          const runner = options.runnerFor(
            topic,
            consumerGroupId,
            initial ? options.startingPosition : "TRIM_HORIZON",
          );
          await runner.start();
          byTopic.set(topic, runner);
          runners.push(runner);
          return topic;
        },
        remove: async ({ topic }) => {
          const runner = byTopic.get(topic);
          byTopic.delete(topic);
          if (!runner) return;
          runners.splice(runners.indexOf(runner), 1);
          await runner.stop();
        },
      },
    });
  await reconcile();
  initial = false;
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    // One pass at a time; a failed pass (broker briefly away) is retried on the next tick.
    running = running.then(reconcile).catch(() => undefined);
  }, options.everyMs);
  return {
    topics: () => [...byTopic.keys()].sort(),
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
