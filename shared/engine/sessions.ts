import type { RepartitionedEvent } from "../codec/repartition.ts";
import type { ShardId } from "../store/window-store.ts";
import type { Aggregator, AggState } from "./aggregations.ts";
import type { BatchPlan } from "./batch.ts";
import { bucketOf } from "./buckets.ts";

/*
 * Session windows as Spark's `session_window(col, gapDuration)` (static gap), on the tumbling
 * protocol's state: events are kept in epoch-aligned *bins* of width = gap. Two events of a key in
 * one bin are less than a gap apart, so a bin holds at most one *run* per key
 * `{minMs, maxMs, aggregates}`; a session is a chain of runs in consecutive bins where
 * `next.minMs <= prev.maxMs + gap` (a bin with no run breaks the chain: its neighbours are more
 * than a gap apart).
 *
 * What real Spark does (PySpark 3.5.7, local[1], session time zone UTC, file source with one file
 * per micro-batch, `withWatermark("event_time", "10 minutes")`,
 * `groupBy(session_window("event_time", "5 minutes"), "user")`, sum + count, append mode; run on
 * 2026-11-30 with test/spark/session_semantics.py):
 * - Merging is closed: events exactly a gap apart (12:00 and 12:05) form one session
 *   `[12:00, 12:10)`, in one batch and across batches; 12:00 and 12:05:00.001 do not.
 * - A late event merges two sessions: u1 `[12:00,12:08)` and `[12:10,12:15)`, then 12:06:30
 *   → one session `[12:00, 12:15)`.
 * - Late is per event: dropped iff `t + gap <= watermark` before its batch, even when the session
 *   it would join is still open (wm 12:14: 12:09 dropped, 12:09:30 counted into `[12:00, 12:15)`).
 * - Append mode emits a session once `end <= watermark` (end = last event + gap): `[12:00,12:15)`
 *   came out when the watermark reached 12:21, not at 12:14.
 * - An event that is not late but arrives after its session was emitted starts a new session,
 *   overlapping the emitted one (`[12:10,12:15)` emitted at wm 12:16, then 12:12 → a second
 *   session `[12:12, 12:17)`). Here the bin is still open then, so the event joins the session:
 *   a documented difference (README), on traces whose result depends on batch boundaries only.
 * - The output column is `session_window` ({"start","end"}), then the key and the aggregates.
 * - `outputMode("update")` is refused: "Update output mode not supported for session window on
 *   streaming DataFrames/DataSets".
 *
 * The bin of an event in `[k·gap, (k+1)·gap)` is stored as the shard `[k·gap, (k+2)·gap)`: its
 * "end" is when it closes, once every event it could still take is late (`t + gap <= wm` for
 * all `t < (k+1)·gap`). Sessions whose last run is in bin k are final when bin k+1 is closed
 * (nothing can merge any more), so they are emitted when bin k+1 closes.
 */

/** The shard (bin) an event of a session pipeline goes to: `[k·gap, (k+2)·gap)`, k = ⌊t / gap⌋. */
export function sessionBinFor(
  eventTimeMs: number,
  gapMs: number,
): { startMs: number; endMs: number } {
  const startMs = eventTimeMs - (((eventTimeMs % gapMs) + gapMs) % gapMs);
  return { startMs, endMs: startMs + 2 * gapMs };
}

/** Spark drops a row from session windows iff its own session end (`t + gap`) is at or before the watermark before its batch. */
export function isSessionEventLate(
  eventTimeMs: number,
  gapMs: number,
  watermarkBeforeBatchMs: number | undefined,
): boolean {
  return watermarkBeforeBatchMs !== undefined && eventTimeMs + gapMs <= watermarkBeforeBatchMs;
}

/**
 * {@link planBatch} for session pipelines: each event goes to the one bin shard of its time, late
 * per {@link isSessionEventLate} (a late event's shard is listed, so a leaf that applied it
 * already makes it a duplicate).
 */
export function planSessionBatch(
  events: readonly RepartitionedEvent[],
  layout: { readonly partition: number; readonly buckets: number },
  gapMs: number,
  watermarkBeforeMs: number | undefined,
): BatchPlan {
  const shards: BatchPlan["shards"] = new Map();
  const late: BatchPlan["late"] = [];
  let maxEventTimeMs: number | undefined;
  for (const event of events) {
    maxEventTimeMs = Math.max(maxEventTimeMs ?? event.eventTimeMs, event.eventTimeMs);
    const id: ShardId = {
      partition: layout.partition,
      bucket: bucketOf(event.groupKey, layout.buckets),
      ...sessionBinFor(event.eventTimeMs, gapMs),
    };
    if (isSessionEventLate(event.eventTimeMs, gapMs, watermarkBeforeMs)) {
      late.push({ event, shards: [id] });
      continue;
    }
    const key = `${id.partition}#${id.bucket}#${id.startMs}#${id.endMs}`;
    const entry = shards.get(key);
    if (entry) entry.events.push(event);
    else shards.set(key, { id, events: [event] });
  }
  return { shards, late, maxEventTimeMs };
}

/** A key's run in one bin: its first and last event time and their aggregates (the pipeline's own aggregator state). */
export interface SessionRun {
  readonly minMs: number;
  readonly maxMs: number;
  readonly state: AggState;
}

/** How a run is stored in a shard's entries: `[minMs, maxMs, aggregates]` (plain JSON). */
type StoredRun = [number | null, number | null, AggState];

/**
 * The aggregator of a session pipeline's bins: the pipeline's aggregates plus the run's first and
 * last event time, read from the row's event-time column (session pipelines carry it).
 */
export function sessionAggregator(inner: Aggregator, eventTimeColumn: string): Aggregator {
  const run = (s: AggState) => s as unknown as StoredRun;
  return {
    init: () => [null, null, inner.init()] as unknown as AggState,
    add(state, row) {
      const s = run(state);
      const t = row[eventTimeColumn] as number;
      s[0] = s[0] === null ? t : Math.min(s[0], t);
      s[1] = s[1] === null ? t : Math.max(s[1], t);
      inner.add(s[2], row);
    },
    merge(a, b) {
      const [aMin, aMax, aState] = run(a);
      const [bMin, bMax, bState] = run(b);
      const min = aMin === null ? bMin : bMin === null ? aMin : Math.min(aMin, bMin);
      const max = aMax === null ? bMax : bMax === null ? aMax : Math.max(aMax, bMax);
      return [min, max, inner.merge(aState, bState)] as unknown as AggState;
    },
    result: (state) => inner.result(run(state)[2]),
  };
}

/** A stored run as a {@link SessionRun} (entries of a session bin shard). */
export function runOf(stored: unknown): SessionRun {
  const [minMs, maxMs, state] = stored as StoredRun;
  return { minMs: minMs as number, maxMs: maxMs as number, state };
}

/** Whether the run of the next bin continues the session of `previous` (Spark merges at exactly a gap). */
export function continues(previous: SessionRun, next: SessionRun, gapMs: number): boolean {
  return next.minMs <= previous.maxMs + gapMs;
}

/** A finished session: `[startMs, endMs)` with end = last event + gap, as Spark's `session_window`. */
export interface Session {
  readonly startMs: number;
  readonly endMs: number;
  readonly state: AggState;
}

/**
 * The session made of a chain of runs (earliest first, each continuing the one before it):
 * from the first event to the last event + gap, the runs' aggregates merged in order with the
 * pipeline's own aggregator's `merge`.
 */
export function sessionOf(
  chain: readonly SessionRun[],
  gapMs: number,
  merge: Aggregator["merge"],
): Session {
  const [first, ...rest] = chain;
  if (!first) throw new Error("a session needs at least one run");
  let state = first.state;
  let maxMs = first.maxMs;
  for (const r of rest) {
    state = merge(state, r.state);
    maxMs = Math.max(maxMs, r.maxMs);
  }
  return { startMs: first.minMs, endMs: maxMs + gapMs, state };
}

/**
 * Sessions of one key from its runs by bin start (any order): what Spark's merging gives for the
 * events those runs hold. For tests and tools; the emitter walks bins from a session's end.
 */
export function sessionsFromRuns(
  runsByBinStartMs: ReadonlyMap<number, SessionRun>,
  gapMs: number,
  merge: Aggregator["merge"],
): Session[] {
  const starts = [...runsByBinStartMs.keys()].sort((a, b) => a - b);
  const sessions: Session[] = [];
  let chain: SessionRun[] = [];
  let previousStart: number | undefined;
  for (const start of starts) {
    const run = runsByBinStartMs.get(start) as SessionRun;
    const last = chain.at(-1);
    if (last && previousStart === start - gapMs && continues(last, run, gapMs)) chain.push(run);
    else {
      if (chain.length > 0) sessions.push(sessionOf(chain, gapMs, merge));
      chain = [run];
    }
    previousStart = start;
  }
  if (chain.length > 0) sessions.push(sessionOf(chain, gapMs, merge));
  return sessions;
}
