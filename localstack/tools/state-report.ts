import { sparkTimestampMs } from "../../shared/codec/timestamps.ts";
import { type AggState, aggregatorFor } from "../../shared/engine/aggregations.ts";
import { bucketOf } from "../../shared/engine/buckets.ts";
import { runOf } from "../../shared/engine/sessions.ts";
import { isDue } from "../../shared/engine/watermark.ts";
import type { FieldType } from "../../shared/pipeline/definition.ts";
import type { Pipeline } from "../../shared/pipeline/pipeline.ts";
import {
  childrenOf,
  type ShardId,
  type StoredShard,
  shardKey,
  shardState,
  splitBitOf,
  type WindowStore,
} from "../../shared/store/window-store.ts";
import { watermarkOf } from "../../shared/usecases/window-batch.ts";

/** One group key's state in one open window of one repartition partition. */
export interface KeyWindow {
  /** As the output record's key writes it: Spark's `CAST(<group key> AS STRING)`. */
  readonly groupKey: string;
  readonly partition: number;
  readonly startMs: number;
  readonly endMs: number;
  /** The aggregates as the result would carry them now (`total_spent`, …). */
  readonly values: Record<string, number | null>;
  /** The watermark reached the window's end: the next batch of its partition or the flush emits it. */
  readonly due: boolean;
  /** Closed and its results produced; the window end is about to be forgotten. */
  readonly closed: boolean;
}

/** What `npm run state` prints: the pipeline's clock, its open windows, and keys' aggregates. */
export interface StateReport {
  readonly pipeline: string;
  readonly watermarkMs: number | undefined;
  readonly maxEventTimeMs: number | undefined;
  readonly partitions: ReadonlyArray<{
    readonly partition: number;
    readonly maxEventTimeMs: number | undefined;
    readonly lastBatchAtMs: number;
    readonly openEndsMs: readonly number[];
    /** Open windows whose end the watermark reached: results waiting to be emitted. */
    readonly dueEndsMs: readonly number[];
  }>;
  /** With a key: its windows. Without: the busiest keys' (by the first aggregation, summed). */
  readonly keys: readonly KeyWindow[];
  /** Without a key: how many distinct keys the open windows hold. */
  readonly distinctKeys: number;
  /** The layout the state was written with, when it differs from the pipeline's definition. */
  readonly layoutMismatch?: string;
}

export interface StateQuery {
  /**
   * One group key as the output record's key writes it (`1.0E7`, `2025-01-01 12:00:00.5`; see
   * {@link keyInState}); undefined for the busiest keys.
   */
  readonly groupKey?: string;
  /** How many keys to show without `groupKey`. */
  readonly top: number;
}

/**
 * Reads a pipeline's window state through the store interface, so it follows the store's
 * layout: the progress (one query: watermark, each partition's max event time and open window
 * ends, the recorded layout), then the shards of the open windows, walking down split shards
 * to their leaves. With a key, only the key's bucket (and branch) in each open window of each
 * partition (`partitions × open ends` items); without one, every bucket (`partitions × open ends
 * × stateBuckets` items), ranking keys by their first aggregation summed over their open windows.
 */
export async function readStateReport(
  store: Pick<WindowStore, "readProgress" | "getShards">,
  pipeline: Pipeline,
  query: StateQuery,
): Promise<StateReport> {
  const progress = await store.readProgress(pipeline.name);
  const { watermarkMs, maxEventTimeMs } = watermarkOf(progress, pipeline.watermarkDelayMs);
  const partitions = [...progress.partitions]
    .sort((a, b) => a.partition - b.partition)
    .map((p) => {
      const openEndsMs = [...p.openEndsMs].sort((a, b) => a - b);
      return {
        partition: p.partition,
        maxEventTimeMs: p.maxEventTimeMs,
        lastBatchAtMs: p.updatedAtMs,
        openEndsMs,
        dueEndsMs: openEndsMs.filter((end) => isDue(end, watermarkMs)),
      };
    });
  const type = pipeline.fields.find((f) => f.name === pipeline.groupKey)?.type;
  const groupKey = query.groupKey === undefined ? undefined : keyInState(query.groupKey, type);
  // The state is laid out by the layout it was written with, whatever the definition says now.
  const stateBuckets = progress.layout?.stateBuckets ?? pipeline.stateBuckets;
  const layoutMismatch =
    progress.layout &&
    (progress.layout.stateBuckets !== pipeline.stateBuckets ||
      progress.layout.partitions !== pipeline.partitions)
      ? `the state was written with partitions ${progress.layout.partitions}, stateBuckets ${progress.layout.stateBuckets}; the definition now says ${pipeline.partitions}, ${pipeline.stateBuckets}`
      : undefined;
  const buckets =
    groupKey === undefined
      ? Array.from({ length: stateBuckets }, (_, b) => b)
      : [bucketOf(groupKey, stateBuckets)];
  const roots: ShardId[] = partitions.flatMap((p) =>
    p.openEndsMs.flatMap((endMs) =>
      buckets.map((bucket) => ({
        partition: p.partition,
        bucket,
        startMs: endMs - pipeline.windowSizeMs,
        endMs,
      })),
    ),
  );
  const aggregator = aggregatorFor(pipeline.aggregations);
  const all: KeyWindow[] = [];
  for (const { id, shard } of await readLeaves(store, pipeline.name, roots, groupKey)) {
    for (const [key, state] of shard.entries) {
      if (groupKey !== undefined && key !== groupKey) continue;
      // A session bin holds the key's run (first and last event time, aggregates): shown as the
      // part of a session it is so far, [first, last + gap).
      const run = pipeline.sessionGapMs === undefined ? undefined : runOf(state);
      all.push({
        groupKey: pipeline.groupKeyText(key),
        partition: id.partition,
        startMs: run ? run.minMs : id.startMs,
        endMs: run ? run.maxMs + (pipeline.sessionGapMs ?? 0) : id.endMs,
        values: aggregator.result((run ? run.state : state) as AggState),
        due: isDue(id.endMs, watermarkMs),
        closed: shard.closedAtMs !== undefined,
      });
    }
  }
  const distinctKeys = new Set(all.map((k) => k.groupKey)).size;
  const keys = groupKey === undefined ? busiest(all, pipeline, query.top) : all;
  return {
    pipeline: pipeline.name,
    watermarkMs,
    maxEventTimeMs,
    partitions,
    keys: [...keys].sort((a, b) => a.groupKey.localeCompare(b.groupKey) || a.startMs - b.startMs),
    distinctKeys,
    ...(layoutMismatch ? { layoutMismatch } : {}),
  };
}

/**
 * A group key as state holds it (`String(value)` of the parsed value) from the text a user types,
 * which is what the output key shows (Spark's cast to string): a double `1.0E7` is held as
 * `10000000`, a timestamp `2025-01-01 12:00:00.5` (or any form Spark's cast reads) as its epoch
 * ms. Text of no such form is taken as is.
 */
export function keyInState(text: string, type: FieldType | undefined): string {
  if (type === "double") {
    const value = Number(text);
    return text.trim() === "" || (Number.isNaN(value) && text !== "NaN") ? text : String(value);
  }
  if (type === "timestamp") {
    const ms = sparkTimestampMs(text, Date.now());
    return ms === undefined ? text : String(ms);
  }
  return text;
}

/**
 * The stored leaves under `roots`: a split shard's keys live in its children (with a key, only
 * the child its hash routes it to). Absent shards are skipped.
 */
async function readLeaves(
  store: Pick<WindowStore, "getShards">,
  pipeline: string,
  roots: readonly ShardId[],
  groupKey: string | undefined,
): Promise<Array<{ id: ShardId; shard: StoredShard }>> {
  const leaves: Array<{ id: ShardId; shard: StoredShard }> = [];
  let level = [...roots];
  while (level.length > 0) {
    const stored = await store.getShards(pipeline, level);
    const next: ShardId[] = [];
    for (const id of level) {
      const shard = stored.get(shardKey(id));
      if (!shard) continue;
      if (shardState(shard) !== "split") {
        leaves.push({ id, shard });
        continue;
      }
      const [zero, one] = childrenOf(id);
      if (groupKey === undefined) next.push(zero, one);
      else next.push(splitBitOf(groupKey, (id.path ?? "").length) === "0" ? zero : one);
    }
    level = next;
  }
  return leaves;
}

/** The windows of the `top` keys with the largest first aggregation summed over their windows. */
function busiest(all: readonly KeyWindow[], pipeline: Pipeline, top: number): KeyWindow[] {
  const rankBy = pipeline.aggregations[0]?.as ?? "";
  const score = new Map<string, number>();
  for (const k of all)
    score.set(k.groupKey, (score.get(k.groupKey) ?? 0) + (k.values[rankBy] ?? 0));
  const chosen = new Set(
    [...score]
      .sort(([ka, a], [kb, b]) => rank(b) - rank(a) || ka.localeCompare(kb))
      .slice(0, top)
      .map(([key]) => key),
  );
  return all.filter((k) => chosen.has(k.groupKey));
}

// Spark's order of doubles: NaN above everything, so a NaN sum ranks first instead of breaking the sort.
const rank = (score: number) => (Number.isNaN(score) ? Number.POSITIVE_INFINITY : score);

const iso = (ms: number | undefined) => (ms === undefined ? "—" : new Date(ms).toISOString());
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** The report as text for a terminal. */
export function renderStateReport(
  report: StateReport,
  pipeline: Pipeline,
  query: StateQuery,
  nowMs: number,
): string {
  const lines = [
    `pipeline ${report.pipeline} · watermark ${iso(report.watermarkMs)} · newest event ${iso(report.maxEventTimeMs)} (delay ${pipeline.watermarkDelayMs / 60_000} min, windows of ${pipeline.windowSizeMs / 60_000} min, emit ${pipeline.emit})`,
  ];
  if (report.layoutMismatch) lines.push(`warning: ${report.layoutMismatch}`);
  if (report.partitions.length === 0) {
    lines.push("no state yet: no batch has reached the window function");
    return lines.join("\n");
  }
  lines.push("", "partition  newest event              last batch      open window ends (due*)");
  for (const p of report.partitions) {
    const ends = p.openEndsMs.map((e) => `${clock(e)}${p.dueEndsMs.includes(e) ? "*" : ""}`);
    lines.push(
      `p${String(p.partition).padEnd(9)}${iso(p.maxEventTimeMs).padEnd(26)}${`${Math.round((nowMs - p.lastBatchAtMs) / 1000)}s ago`.padEnd(16)}${ends.join(" ") || "none"}`,
    );
  }
  const due = report.partitions.flatMap((p) =>
    p.dueEndsMs.map((e) => `p${p.partition} ${clock(e)}`),
  );
  lines.push(
    "",
    due.length > 0
      ? `due (the watermark passed their end; the partition's next batch or the flush emits them): ${due.join(", ")}`
      : "due: nothing (no open window ends at or before the watermark)",
    "",
  );
  const names = pipeline.aggregations.map((a) => a.as);
  if (query.groupKey !== undefined) {
    lines.push(
      report.keys.length > 0
        ? `key ${JSON.stringify(query.groupKey)}: ${report.keys.length} open window(s)`
        : `key ${JSON.stringify(query.groupKey)}: no open window holds it`,
    );
  } else {
    lines.push(
      `${report.distinctKeys} key(s) in open windows; ${report.distinctKeys > query.top ? `the ${query.top} largest by ${names[0]}` : "all of them"}:`,
    );
  }
  for (const k of report.keys) {
    const values = names.map((n) => `${n}=${k.values[n] ?? "null"}`).join(" ");
    const status = k.closed ? "closed, results sent" : k.due ? "due" : "open";
    lines.push(
      `  ${k.groupKey}  [${iso(k.startMs)}, ${iso(k.endMs)})  p${k.partition}  ${values}  ${status}`,
    );
  }
  return lines.join("\n");
}
