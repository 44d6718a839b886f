import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { TopicMessages } from "kafkajs";
import { decodeMskEvent, type MskEvent } from "../msk/event.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import type { WindowStore } from "../store/window-store.ts";
import { type FlushCounts, flushDueWindows } from "../usecases/flush.ts";
import { type ParseFilterCounts, parseFilterStep } from "../usecases/parse-filter.ts";
import {
  processWindowBatch,
  type WindowCounts,
  type WindowStep,
} from "../usecases/window-batch.ts";
import { addCounts, addCountsBy } from "./observability.ts";

/** What the handlers need; built once per container by `environment.ts`, or by a test. */
export interface HandlerDeps {
  readonly pipeline: Pipeline;
  readonly store: WindowStore;
  /** Produces to Kafka and resolves once the broker acknowledged every message. */
  readonly send: (topicMessages: TopicMessages[]) => Promise<void>;
  readonly nowMs: () => number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /**
   * `watermarkFrom: "sources"`: the source partitions feeding the pipeline, when known (the
   * watermark waits for all of them, at most the source idle time).
   */
  readonly expectedSources?: number;
  /** Fault injection for crash tests; absent in production. */
  readonly checkpoint?: (step: WindowStep) => void | Promise<void>;
}

/** The parse/filter function: source records → repartition topic (valid) and dead-letter topic. */
export function parseFilterHandler(
  deps: HandlerDeps,
): (event: MskEvent) => Promise<ParseFilterCounts> {
  const step = parseFilterStep(deps.pipeline);
  const { topics } = deps.pipeline;
  return async (event) => {
    const { repartition, deadLetter, counts } = step(decodeMskEvent(event));
    await deps.send([
      { topic: topics.repartition, messages: repartition },
      { topic: topics.deadLetter, messages: deadLetter },
    ]);
    addCounts(deps.metrics, {
      eventsIn: counts.in,
      valid: counts.valid,
      filtered: counts.filtered,
      invalid: counts.invalid,
    });
    addCountsBy(deps.metrics, "coercedToNull", "fieldAndReason", counts.coerced);
    addCountsBy(deps.metrics, "deadLetters", "reason", counts.deadLetters);
    if (counts.invalid > 0)
      deps.logger.warn("records sent to the dead-letter topic", {
        ...counts,
        topic: topics.deadLetter,
      });
    return counts;
  };
}

/** The window function: repartitioned events → window state, late topic, output topic. */
export function windowHandler(deps: HandlerDeps): (event: MskEvent) => Promise<WindowCounts> {
  return async (event) => {
    const counts = await processWindowBatch(decodeMskEvent(event), {
      pipeline: deps.pipeline,
      store: deps.store,
      send: deps.send,
      nowMs: deps.nowMs,
      ...(deps.checkpoint ? { checkpoint: deps.checkpoint } : {}),
      ...(deps.expectedSources === undefined ? {} : { expectedSources: deps.expectedSources }),
    });
    const { watermarkMs, ...rest } = counts;
    addCounts(deps.metrics, rest);
    if (watermarkMs !== undefined) {
      deps.metrics.addMetric("watermarkLagMs", MetricUnit.Milliseconds, deps.nowMs() - watermarkMs);
    }
    return counts;
  };
}

/** The scheduled flush function: closes due windows of quiet partitions (and idle ones). */
export function flushHandler(deps: HandlerDeps): () => Promise<FlushCounts> {
  return async () => {
    const counts = await flushDueWindows({
      pipeline: deps.pipeline,
      store: deps.store,
      send: (messages) => deps.send(messages),
      nowMs: deps.nowMs,
      ...(deps.expectedSources === undefined ? {} : { expectedSources: deps.expectedSources }),
    });
    addCounts(deps.metrics, { emitted: counts.emitted });
    return counts;
  };
}
