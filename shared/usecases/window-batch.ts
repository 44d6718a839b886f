import type { Message, TopicMessages } from "kafkajs";
import {
  decodeRepartitionRecord,
  type ProgressMarker,
  type RepartitionedEvent,
} from "../codec/repartition.ts";
import { isoMs } from "../codec/spark-json.ts";
import type { Aggregator } from "../engine/aggregations.ts";
import { planBatch } from "../engine/batch.ts";
import { planSessionBatch } from "../engine/sessions.ts";
import {
  mergeSourceProgress,
  type SourceProgress,
  sourceWatermark,
} from "../engine/source-watermark.ts";
import { advanceWatermark, isDue, maxOf } from "../engine/watermark.ts";
import type { KafkaRecord } from "../msk/event.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import type { PartitionProgress, PipelineProgress, WindowStore } from "../store/window-store.ts";
import { HEADERS } from "./headers.ts";
import { deadLetterMessage } from "./parse-filter.ts";
import { alreadyApplied, windowAggregator } from "./session-results.ts";
import {
  checkLayout,
  emitDueWindows,
  MAX_WRITE_ATTEMPTS,
  resolveLeaves,
  settleLateEvents,
  writeLeaves,
} from "./window-protocol.ts";

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
  /**
   * `watermarkFrom: "sources"`: how many source partitions feed the pipeline, when known; a
   * partition's watermark waits for all of them (at most the source idle time).
   */
  readonly expectedSources?: number;
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
  const { pipeline } = deps;
  const aggregator = windowAggregator(pipeline);
  const counts: WindowCounts = {
    ...emptyWindowCounts(),
    watermarkMs: undefined,
  };
  // read
  const watermark =
    pipeline.watermarkFrom === "sources"
      ? await sourcesWatermark(deps)
      : await sharedMaxWatermark(deps);

  for (const [partition, partitionRecords] of byPartition(records)) {
    const events: RepartitionedEvent[] = [];
    const markers: ProgressMarker[] = [];
    const invalid: Message[] = [];
    for (const record of partitionRecords) {
      try {
        const decoded = decodeRepartitionRecord(record.value, pipeline.carriedColumns);
        if (decoded.kind === "events") for (const event of decoded.events) events.push(event);
        else markers.push(decoded);
      } catch (error) {
        invalid.push(deadLetterMessage(record, (error as Error).message));
      }
    }
    // progress markers are not events; a record that does not decode counts as one
    counts.in += events.length + invalid.length;
    counts.invalid += invalid.length;
    const before = await watermark.before(partition);
    const applied = await applyPartition(
      deps,
      aggregator,
      partition,
      events,
      before.watermarkMs,
      counts,
    );
    // progress: the watermark moves after the batch (Spark: at the end of the micro-batch)
    const newestRecordMs = Math.max(...partitionRecords.map((r) => r.timestampMs));
    const watermarkMs = await watermark.after(
      partition,
      events,
      markers,
      applied.maxEventTimeMs,
      newestRecordMs,
    );
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
      const dueEnds = [...new Set([...before.openEndsMs, ...applied.openedEnds])].filter((end) =>
        isDue(end, watermarkMs),
      );
      counts.emitted += await emitDueWindows(deps, aggregator, partition, dueEnds);
    }
  }
  return counts;
}

/** Where a batch's watermark comes from and goes to, per the pipeline's `watermarkFrom`. */
interface WatermarkSteps {
  /** The watermark in force before the partition's batch, and its open window ends. */
  before(
    partition: number,
  ): Promise<{ watermarkMs: number | undefined; openEndsMs: readonly number[] }>;
  /** Records the batch's progress; returns the watermark after it. */
  after(
    partition: number,
    events: readonly RepartitionedEvent[],
    markers: readonly ProgressMarker[],
    maxEventTimeMs: number | undefined,
    /** Kafka timestamp (epoch ms) of the batch's newest record: how far behind the partition is. */
    newestRecordMs: number,
  ): Promise<number | undefined>;
}

/**
 * `watermarkFrom: "max"`: one watermark for the pipeline, the max event time over all partitions
 * minus the delay, read with every partition's progress and moved by whichever invocation gets
 * ahead (a hot key at high partition counts, see the README).
 */
async function sharedMaxWatermark(deps: WindowDeps): Promise<WatermarkSteps> {
  const { pipeline, store } = deps;
  const progress = await store.readProgress(pipeline.name, pipeline.partitions);
  await checkLayout(store, pipeline, progress);
  const { maxEventTimeMs: seenMaxMs, watermarkMs: watermarkBeforeMs } = watermarkOf(
    progress,
    pipeline.watermarkDelayMs,
  );
  return {
    before: async (partition) => ({
      watermarkMs: watermarkBeforeMs,
      openEndsMs: progress.partitions.find((p) => p.partition === partition)?.openEndsMs ?? [],
    }),
    after: async (partition, _events, _markers, maxEventTimeMs) => {
      if (maxEventTimeMs !== undefined)
        await store.recordProgress(pipeline.name, partition, maxEventTimeMs);
      const watermarkMs = advanceWatermark(
        watermarkBeforeMs,
        maxOf([seenMaxMs, maxEventTimeMs]),
        pipeline.watermarkDelayMs,
      );
      if (watermarkMs !== undefined && watermarkMs !== progress.watermarkMs) {
        await store.advanceWatermark(pipeline.name, watermarkMs);
      }
      return watermarkMs;
    },
  };
}

// The layout is checked once per container and pipeline, not per invocation (no hot key).
const layoutChecked = new WeakMap<WindowStore, Set<string>>();

/**
 * `watermarkFrom: "sources"` (issue 14): each repartition partition keeps its own watermark, the
 * minimum over source partitions of their max event time (from its events and the parse step's
 * progress markers) minus the delay, idle sources left out (`engine/source-watermark.ts`). An
 * invocation reads and writes only its own partition's progress item, in one write: its newest
 * event time is read from its sources' (`maxEventTimeOf`), so no `recordProgress` is needed.
 */
async function sourcesWatermark(deps: WindowDeps): Promise<WatermarkSteps> {
  const { pipeline, store } = deps;
  const checked = layoutChecked.get(store) ?? new Set<string>();
  layoutChecked.set(store, checked);
  const layout = `${pipeline.name}#${pipeline.partitions}#${pipeline.stateBuckets}`;
  if (!checked.has(layout)) {
    await checkLayout(store, pipeline, await store.readProgress(pipeline.name, 0));
    checked.add(layout);
  }
  const read = new Map<number, PartitionProgress | undefined>();
  return {
    before: async (partition) => {
      const progress = await store.readPartition(pipeline.name, partition);
      read.set(partition, progress);
      return { watermarkMs: progress?.watermarkMs, openEndsMs: progress?.openEndsMs ?? [] };
    },
    after: async (partition, events, markers, _maxEventTimeMs, newestRecordMs) => {
      const nowMs = deps.nowMs();
      // A partition reading records older than the idle time is behind: a source missing from
      // its batch may be further on in its backlog, so none counts as idle here (the flush,
      // which sees every partition, decides idleness for partitions with nothing to read).
      const caughtUp = nowMs - newestRecordMs < pipeline.sourceIdleMs;
      let progress = read.get(partition);
      const seen = sightings(events, markers, nowMs);
      for (let attempt = 1; ; attempt++) {
        const known = progress?.sources ?? [];
        const merged = mergeSourceProgress(known, seen(known));
        const watermarkMs = sourceWatermark(progress?.watermarkMs, merged, {
          delayMs: pipeline.watermarkDelayMs,
          idleMs: caughtUp ? pipeline.sourceIdleMs : undefined,
          expectedSources: deps.expectedSources,
          nowMs,
          sinceMs: progress?.sinceMs ?? nowMs,
        });
        if (await store.recordSources(pipeline.name, partition, merged, watermarkMs, nowMs)) {
          return watermarkMs;
        }
        if (attempt === MAX_WRITE_ATTEMPTS) {
          throw new Error(`progress of partition ${partition} kept changing; retry the batch`);
        }
        progress = await store.readPartition(pipeline.name, partition);
      }
    },
  };
}

/** Each source's progress as this batch shows it (a marker's `behind`, else what was known). */
function sightings(
  events: readonly RepartitionedEvent[],
  markers: readonly ProgressMarker[],
  nowMs: number,
): (known: readonly SourceProgress[]) => SourceProgress[] {
  const max = new Map<string, number>();
  const behind = new Map<string, boolean>();
  for (const e of events)
    max.set(e.source, Math.max(max.get(e.source) ?? e.eventTimeMs, e.eventTimeMs));
  for (const m of markers) {
    max.set(m.source, Math.max(max.get(m.source) ?? m.maxEventTimeMs, m.maxEventTimeMs));
    behind.set(m.source, m.behind);
  }
  return (known) =>
    [...max].map(([source, maxEventTimeMs]) => ({
      source,
      maxEventTimeMs,
      seenAtMs: nowMs,
      behind: behind.get(source) ?? known.find((k) => k.source === source)?.behind ?? false,
    }));
}

interface PartitionOutcome {
  /** Update mode: the changed (key, window) results. */
  readonly updates: Message[];
  readonly openedEnds: readonly number[];
  readonly late: Message[];
  readonly maxEventTimeMs: number | undefined;
}

/** The plan, open and write steps for one repartition partition's events (progress: `after`). */
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
  const layout = { partition, buckets: pipeline.stateBuckets };
  const gapMs = pipeline.sessionGapMs;
  const plan =
    gapMs === undefined
      ? planBatch(events, layout, pipeline.windowSizeMs, pipeline.windowSlideMs, watermarkBeforeMs)
      : planSessionBatch(events, layout, gapMs, watermarkBeforeMs);
  if (plan.maxEventTimeMs === undefined) {
    return { updates: [], openedEnds: [], late: [], maxEventTimeMs: undefined };
  }
  // Late events' leaves are read too: an event a previous attempt (or a racing invocation under
  // an older watermark) counted is a duplicate, not late; the leaf is closed before any is
  // reported late, so nobody counts it afterwards.
  const lateLeaves = await resolveLeaves(
    store,
    pipeline.name,
    plan.late.flatMap(({ event, shards }) => shards.map((id) => ({ id, events: [event] }))),
  );
  // Session bins: a late event's bin may still take other events, so it is not closed; its late
  // events are sent before any state write instead (session-results.ts).
  const alreadyCounted =
    gapMs === undefined
      ? await settleLateEvents(store, pipeline.name, lateLeaves, deps.nowMs())
      : alreadyApplied(lateLeaves);
  const sentEarly = new Set<RepartitionedEvent>();
  if (gapMs !== undefined) {
    for (const { event } of plan.late) if (!alreadyCounted.has(event)) sentEarly.add(event);
    const messages = [...sentEarly].map((e) => lateMessage(pipeline, e, watermarkBeforeMs));
    if (pipeline.late === "topic" && messages.length > 0)
      await deps.send([{ topic: pipeline.topics.late, messages }]);
  }
  const leaves = await resolveLeaves(store, pipeline.name, [...plan.shards.values()]);
  await deps.checkpoint?.("before-state");

  // open (I1), then write (I2)
  // A session bin lists the next bin's end too: closing that one emits the sessions ending here.
  const openedEnds = [
    ...new Set(
      [...plan.shards.values()].flatMap((s) =>
        gapMs === undefined ? [s.id.endMs] : [s.id.endMs, s.id.endMs + gapMs],
      ),
    ),
  ];
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

  return {
    updates: written.updates,
    openedEnds: pipeline.emit === "final" ? openedEnds : [],
    late: late
      .filter((e) => !sentEarly.has(e))
      .map((e) => lateMessage(pipeline, e, watermarkBeforeMs)),
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
    key: pipeline.groupKeyText(event.groupKey),
    value: JSON.stringify(
      {
        [pipeline.groupKey]: event.groupKey,
        [pipeline.eventTime]: isoMs(event.eventTimeMs),
        ...event.row,
        [pipeline.eventTime]: isoMs(event.eventTimeMs), // session pipelines carry it as ms
      },
      // NaN and ±Infinity as Spark's to_json writes them ("NaN"), not as JSON's null.
      (_, value) => (typeof value === "number" && !Number.isFinite(value) ? String(value) : value),
    ),
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
