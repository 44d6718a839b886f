import type { Message, TopicMessages } from "kafkajs";
import { decodeRepartitioned, type RepartitionedEvent } from "../codec/repartition.ts";
import { isoMs } from "../codec/spark-json.ts";
import { type Aggregator, aggregatorFor } from "../engine/aggregations.ts";
import { planBatch } from "../engine/batch.ts";
import { advanceWatermark, isDue, maxOf } from "../engine/watermark.ts";
import type { KafkaRecord } from "../msk/event.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import type { PipelineProgress, WindowStore } from "../store/window-store.ts";
import { HEADERS } from "./headers.ts";
import { deadLetterMessage } from "./parse-filter.ts";
import { checkLayout, emitDueWindows, resolveLeaves, writeLeaves } from "./window-protocol.ts";

export { emitDueWindows } from "./window-protocol.ts";

/** Points in a window batch where tests inject crashes (no-op in production). */
export type WindowStep = "before-state" | "between-state-writes" | "after-state" | "after-emit";

export interface WindowDeps {
  readonly pipeline: Pipeline;
  readonly store: WindowStore;
  /** Produces and resolves once the broker acknowledged every message. */
  readonly send: (topicMessages: TopicMessages[]) => Promise<void>;
  readonly nowMs: () => number;
  readonly checkpoint?: (step: WindowStep) => void | Promise<void>;
}

/** What a window batch did: `in = counted + late + duplicates + invalid`. */
export interface WindowCounts {
  in: number;
  counted: number;
  late: number;
  /** Already applied before (a redelivered batch, a re-produced prefix): skipped. */
  duplicates: number;
  invalid: number;
  windowsWritten: number;
  emitted: number;
  conflicts: number;
  watermarkMs: number | undefined;
}

/**
 * The pipeline's watermark from its stored progress: the recorded one, or the maximum event time
 * of all partitions minus the delay when that is ahead (a partition recorded its progress and
 * crashed before moving the watermark).
 */
export function watermarkOf(
  progress: PipelineProgress,
  delayMs: number,
): { maxEventTimeMs: number | undefined; watermarkMs: number | undefined } {
  const maxEventTimeMs = maxOf(progress.partitions.map((p) => p.maxEventTimeMs));
  return {
    maxEventTimeMs,
    watermarkMs: advanceWatermark(progress.watermarkMs, maxEventTimeMs, delayMs),
  };
}

/** Zeroed counts. */
export function emptyWindowCounts(): Omit<WindowCounts, "watermarkMs"> {
  return {
    in: 0,
    counted: 0,
    late: 0,
    duplicates: 0,
    invalid: 0,
    windowsWritten: 0,
    emitted: 0,
    conflicts: 0,
  };
}

/**
 * Applies a batch from the repartition topic to window state, exactly once, then emits what the
 * emit mode says: per repartition partition of the batch, the transitions of
 * `window-protocol.ts` in order (read, plan, open, write, progress, emit), whose invariants make
 * a crash anywhere leave state that a retry completes: nothing counted twice, no result lost, a
 * result re-sent at most, byte-identical.
 */
export async function processWindowBatch(
  records: readonly KafkaRecord[],
  deps: WindowDeps,
): Promise<WindowCounts> {
  const { pipeline, store } = deps;
  const aggregator = aggregatorFor(pipeline.aggregations);
  const counts: WindowCounts = {
    ...emptyWindowCounts(),
    in: records.length,
    watermarkMs: undefined,
  };
  // read
  const progress = await store.readProgress(pipeline.name);
  await checkLayout(store, pipeline, progress);
  const { maxEventTimeMs: seenMaxMs, watermarkMs: watermarkBeforeMs } = watermarkOf(
    progress,
    pipeline.watermarkDelayMs,
  );
  counts.watermarkMs = watermarkBeforeMs;

  for (const [partition, partitionRecords] of byPartition(records)) {
    const events: RepartitionedEvent[] = [];
    const invalid: Message[] = [];
    for (const record of partitionRecords) {
      try {
        events.push(decodeRepartitioned(record.value, pipeline.carriedColumns));
      } catch (error) {
        invalid.push(deadLetterMessage(record, (error as Error).message));
      }
    }
    counts.invalid += invalid.length;
    const openEnds = progress.partitions.find((p) => p.partition === partition)?.openEndsMs ?? [];
    const applied = await applyPartition(
      deps,
      aggregator,
      partition,
      events,
      watermarkBeforeMs,
      counts,
    );
    // progress: the watermark moves after the batch (Spark: at the end of the micro-batch)
    const watermarkMs = advanceWatermark(
      watermarkBeforeMs,
      maxOf([seenMaxMs, applied.maxEventTimeMs]),
      pipeline.watermarkDelayMs,
    );
    if (watermarkMs !== undefined && watermarkMs !== progress.watermarkMs) {
      await store.advanceWatermark(pipeline.name, watermarkMs);
    }
    counts.watermarkMs = watermarkMs;
    await deps.checkpoint?.("after-state");

    await deps.send([
      { topic: pipeline.topics.late, messages: pipeline.late === "topic" ? applied.late : [] },
      { topic: pipeline.topics.deadLetter, messages: invalid },
      {
        topic: pipeline.topics.output,
        messages: pipeline.emit === "update" ? applied.updates : [],
      },
    ]);
    // emit
    if (pipeline.emit === "update") counts.emitted += applied.updates.length;
    else {
      const dueEnds = [...new Set([...openEnds, ...applied.openedEnds])].filter((end) =>
        isDue(end, watermarkMs),
      );
      counts.emitted += await emitDueWindows(deps, aggregator, partition, dueEnds);
    }
  }
  return counts;
}

interface PartitionOutcome {
  /** Update mode: the changed (key, window) results. */
  readonly updates: Message[];
  readonly openedEnds: readonly number[];
  readonly late: Message[];
  readonly maxEventTimeMs: number | undefined;
}

/** The plan, open, write and progress steps for one repartition partition's events. */
async function applyPartition(
  deps: WindowDeps,
  aggregator: Aggregator,
  partition: number,
  events: readonly RepartitionedEvent[],
  watermarkBeforeMs: number | undefined,
  counts: WindowCounts,
): Promise<PartitionOutcome> {
  const { pipeline, store } = deps;
  // plan
  const plan = planBatch(
    events,
    { partition, buckets: pipeline.stateBuckets },
    pipeline.windowSizeMs,
    pipeline.windowSlideMs,
    watermarkBeforeMs,
  );
  if (plan.maxEventTimeMs === undefined) {
    return { updates: [], openedEnds: [], late: [], maxEventTimeMs: undefined };
  }
  // Late events' leaves are read too: an event a previous attempt counted (under an older
  // watermark) is a duplicate, not late.
  const lateLeaves = await resolveLeaves(
    store,
    pipeline.name,
    plan.late.flatMap(({ event, shards }) => shards.map((id) => ({ id, events: [event] }))),
  );
  const alreadyCounted = new Set(
    lateLeaves.flatMap((l) =>
      l.events.filter((e) => (l.stored?.applied[e.source] ?? -1) >= e.sourceOffset),
    ),
  );
  const leaves = await resolveLeaves(store, pipeline.name, [...plan.shards.values()]);
  await deps.checkpoint?.("before-state");

  // open (I1), then write (I2)
  const openedEnds = [...new Set([...plan.shards.values()].map((s) => s.id.endMs))];
  const opened = await store.openWindows(pipeline.name, partition, openedEnds, deps.nowMs());
  const written = await writeLeaves(store, pipeline, aggregator, opened, leaves, () =>
    deps.checkpoint?.("between-state-writes"),
  );
  counts.windowsWritten += written.shardsWritten;
  counts.conflicts += written.conflicts;
  counts.counted += written.counted.size;
  const late = [
    ...new Set([
      ...plan.late.map((l) => l.event).filter((e) => !alreadyCounted.has(e)),
      ...written.late,
    ]),
  ].filter((e) => !written.counted.has(e));
  counts.late += late.length;
  counts.duplicates += events.length - written.counted.size - late.length;

  // progress
  await store.recordProgress(pipeline.name, partition, plan.maxEventTimeMs);
  return {
    updates: written.updates,
    openedEnds: pipeline.emit === "final" ? openedEnds : [],
    late: late.map((e) => lateMessage(pipeline, e, watermarkBeforeMs)),
    maxEventTimeMs: plan.maxEventTimeMs,
  };
}

function lateMessage(
  pipeline: Pipeline,
  event: RepartitionedEvent,
  watermarkMs: number | undefined,
): Message {
  const [topic, partition] = splitSource(event.source);
  return {
    key: event.groupKey,
    value: JSON.stringify({
      [pipeline.groupKey]: event.groupKey,
      [pipeline.eventTime]: isoMs(event.eventTimeMs),
      ...event.row,
    }),
    headers: {
      [HEADERS.lateByMs]: String((watermarkMs ?? 0) - event.eventTimeMs),
      [HEADERS.watermark]: String(watermarkMs),
      [HEADERS.sourceTopic]: topic,
      [HEADERS.sourcePartition]: partition,
      [HEADERS.sourceOffset]: String(event.sourceOffset),
    },
  };
}

function splitSource(source: string): [string, string] {
  const slash = source.lastIndexOf("/");
  return [source.slice(0, slash), source.slice(slash + 1)];
}

function byPartition(records: readonly KafkaRecord[]): Map<number, KafkaRecord[]> {
  const groups = new Map<number, KafkaRecord[]>();
  for (const record of records) {
    const group = groups.get(record.partition);
    if (group) group.push(record);
    else groups.set(record.partition, [record]);
  }
  return groups;
}
