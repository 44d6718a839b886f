import type { Message, TopicMessages } from "kafkajs";
import { decodeRepartitioned, type RepartitionedEvent } from "../codec/repartition.ts";
import { isoMs } from "../codec/spark-json.ts";
import { type Aggregator, aggregatorFor } from "../engine/aggregations.ts";
import { applyEvents, planBatch } from "../engine/batch.ts";
import { advanceWatermark, isDue, maxOf } from "../engine/watermark.ts";
import type { KafkaRecord } from "../msk/event.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import {
  type PipelineProgress,
  type ShardId,
  type StoredShard,
  shardKey,
  type WindowStore,
} from "../store/window-store.ts";
import { HEADERS } from "./headers.ts";
import { deadLetterMessage } from "./parse-filter.ts";
import { EMITTED_RETENTION_MS, resultMessage } from "./results.ts";

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

// Optimistic-locking rounds per window before the invocation fails and Lambda retries it.
const MAX_WRITE_ATTEMPTS = 8;

/**
 * Applies a batch from the repartition topic to window state, exactly once, then emits what the
 * emit mode says. Per repartition partition of the batch:
 *
 * 1. the watermark in force before the batch decides what is late (Spark's rule);
 * 2. events are pre-aggregated per (key, window) into shards (a window's keys of one bucket), so
 *    DynamoDB sees one conditional write per shard touched, not per key or event;
 * 3. each write skips events at or below the source offsets the shard already applied and
 *    expects the version it read; on a conflict it re-reads and applies only what is missing;
 * 4. progress and the watermark move forward (never back);
 * 5. late events go to the late topic, due windows (final: closed, produced, then forgotten) or
 *    changed results (update) to the output.
 *
 * A crash anywhere leaves state that a retry completes: nothing is counted twice, no result lost,
 * a result re-sent at most, byte-identical.
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
  const progress = await store.readProgress(pipeline.name);
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
  readonly openedEnds: number[];
  readonly late: Message[];
  readonly maxEventTimeMs: number | undefined;
}

async function applyPartition(
  deps: WindowDeps,
  aggregator: Aggregator,
  partition: number,
  events: readonly RepartitionedEvent[],
  watermarkBeforeMs: number | undefined,
  counts: WindowCounts,
): Promise<PartitionOutcome> {
  const { pipeline, store } = deps;
  const plan = planBatch(
    events,
    { partition, buckets: pipeline.stateBuckets },
    pipeline.windowSizeMs,
    pipeline.windowSlideMs,
    watermarkBeforeMs,
  );
  // Late events' shards are read too: an event a previous attempt counted (under an older
  // watermark) is a duplicate, not late.
  const stored = await store.getShards(pipeline.name, [
    ...[...plan.shards.values()].map((s) => s.id),
    ...plan.late.flatMap((l) => l.shards),
  ]);
  await deps.checkpoint?.("before-state");

  const updates: Message[] = [];
  const openedEnds = new Set<number>();
  const lateEvents: RepartitionedEvent[] = [];
  for (const { event, shards } of plan.late) {
    const counted = shards.some(
      (id) => (stored.get(shardKey(id))?.applied[event.source] ?? -1) >= event.sourceOffset,
    );
    if (!counted) lateEvents.push(event);
  }

  const countedEvents = new Set<RepartitionedEvent>();
  for (const { id, events: shardEvents } of plan.shards.values()) {
    let current = stored.get(shardKey(id));
    for (let attempt = 1; ; attempt++) {
      if (current?.closedAtMs !== undefined) {
        // Closed meanwhile (the watermark passed it after we read it): these events are late now.
        for (const e of shardEvents)
          if ((current.applied[e.source] ?? -1) < e.sourceOffset) lateEvents.push(e);
        break;
      }
      const next = applyEvents(current, shardEvents, aggregator);
      if (!next) {
        // All applied by an attempt that crashed before recording the end: record it now.
        if (current && pipeline.emit === "final") openedEnds.add(id.endMs);
        break;
      }
      const shard: StoredShard = {
        ...id,
        entries: next.entries,
        applied: next.applied,
        version: (current?.version ?? 0) + 1,
        ...(pipeline.emit === "update"
          ? { expiresAtMs: id.endMs + pipeline.watermarkDelayMs + EMITTED_RETENTION_MS }
          : {}),
      };
      if (await store.putShard(pipeline.name, shard, current?.version)) {
        for (const e of next.newEvents) countedEvents.add(e);
        counts.windowsWritten++;
        // Every write re-adds its end (a set: idempotent), so a crash between creating a shard
        // and recording its end cannot leave the window unlisted and never emitted.
        if (pipeline.emit === "final") openedEnds.add(id.endMs);
        else {
          for (const groupKey of next.changedKeys) {
            const { startMs, endMs } = id;
            const state = next.entries.get(groupKey);
            const result = { groupKey, startMs, endMs, state, version: shard.version };
            updates.push(resultMessage(pipeline, aggregator, result));
          }
        }
        if (counts.windowsWritten === 1) await deps.checkpoint?.("between-state-writes");
        break;
      }
      counts.conflicts++;
      if (attempt === MAX_WRITE_ATTEMPTS) {
        throw new Error(
          `window shard ${shardKey(id)} kept changing under ${attempt} write attempts; retry the batch`,
        );
      }
      current = (await store.getShards(pipeline.name, [id])).get(shardKey(id));
    }
  }
  counts.counted += countedEvents.size;
  const uniqueLate = [...new Set(lateEvents)].filter((e) => !countedEvents.has(e));
  counts.late += uniqueLate.length;
  counts.duplicates += events.length - countedEvents.size - uniqueLate.length;

  if (plan.maxEventTimeMs !== undefined) {
    await store.recordProgress(
      pipeline.name,
      partition,
      plan.maxEventTimeMs,
      [...openedEnds],
      deps.nowMs(),
    );
  }
  return {
    updates,
    openedEnds: [...openedEnds],
    late: uniqueLate.map((e) => lateMessage(pipeline, e, watermarkBeforeMs)),
    maxEventTimeMs: plan.maxEventTimeMs,
  };
}

/**
 * Emits the windows of `partition` ending at `endsMs` (all due): close every bucket's shard
 * (conditional on the version read, so no write slips in between), produce the results, wait
 * for the broker, then forget the ends. Shared by the window and flush functions; if both race,
 * or a crash comes between closing and producing, the results are re-sent byte-identical.
 * Returns how many results this call closed.
 */
export async function emitDueWindows(
  deps: Pick<WindowDeps, "pipeline" | "store" | "send" | "nowMs" | "checkpoint">,
  aggregator: Aggregator,
  partition: number,
  endsMs: readonly number[],
): Promise<number> {
  const { pipeline, store } = deps;
  if (endsMs.length === 0) return 0;
  const ids: ShardId[] = endsMs.flatMap((endMs) =>
    Array.from({ length: pipeline.stateBuckets }, (_, bucket) => ({
      partition,
      bucket,
      startMs: endMs - pipeline.windowSizeMs,
      endMs,
    })),
  );
  const stored = await store.getShards(pipeline.name, ids);
  const nowMs = deps.nowMs();
  let emitted = 0;
  /** The shard as closed: by this call, or before (a crash, a racing flush): then re-sent. */
  const close = async (id: ShardId): Promise<StoredShard | undefined> => {
    let shard = stored.get(shardKey(id));
    for (let attempt = 1; shard?.closedAtMs === undefined; attempt++) {
      const expiresAtMs = id.endMs + EMITTED_RETENTION_MS;
      if (await store.closeShard(pipeline.name, id, shard?.version, nowMs, expiresAtMs)) {
        emitted += shard?.entries.size ?? 0;
        return shard;
      }
      if (attempt === MAX_WRITE_ATTEMPTS) {
        throw new Error(`window shard ${shardKey(id)} kept changing while closing; retry`);
      }
      shard = (await store.getShards(pipeline.name, [id])).get(shardKey(id));
    }
    return shard;
  };
  const closed: StoredShard[] = [];
  for (const id of ids) {
    const shard = await close(id);
    if (shard) closed.push(shard);
  }
  await deps.send([{ topic: pipeline.topics.output, messages: closed.flatMap(resultsOf) }]);
  await deps.checkpoint?.("after-emit");
  await store.closeEnds(pipeline.name, partition, endsMs);
  return emitted;

  function resultsOf(shard: StoredShard): Message[] {
    return [...shard.entries.keys()].sort().map((groupKey) =>
      resultMessage(pipeline, aggregator, {
        groupKey,
        startMs: shard.startMs,
        endMs: shard.endMs,
        state: shard.entries.get(groupKey),
        version: shard.version,
      }),
    );
  }
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
