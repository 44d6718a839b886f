import { aggregatorFor } from "../engine/aggregations.ts";
import { sourceWatermark } from "../engine/source-watermark.ts";
import { idleWatermark, isDue, maxOf } from "../engine/watermark.ts";
import type { PipelineProgress } from "../store/window-store.ts";
import { emitDueWindows, type WindowDeps, watermarkOf } from "./window-batch.ts";
import { checkLayout } from "./window-protocol.ts";

/**
 * A partition with a batch this recent emits its own due windows (every batch does), so the flush
 * leaves it alone: the two would race to produce the same results (byte-identical, but twice).
 */
export const FLUSH_QUIET_MS = 10_000;

export interface FlushCounts {
  emitted: number;
  watermarkMs: number | undefined;
}

/**
 * Emits final-mode windows that are due but sit in partitions that received no new events for
 * {@link FLUSH_QUIET_MS} — what Spark's no-data micro-batches do. With the pipeline's `idleClose`, it also lets the watermark
 * move with the wall clock once no event arrived for that long (beyond Spark), so the last
 * windows close even when the stream stops.
 */
export async function flushDueWindows(deps: Omit<WindowDeps, "checkpoint">): Promise<FlushCounts> {
  const { pipeline, store } = deps;
  if (pipeline.emit !== "final") return { emitted: 0, watermarkMs: undefined };
  const progress = await store.readProgress(pipeline.name, pipeline.partitions);
  if (progress.layout) await checkLayout(store, pipeline, progress);
  if (pipeline.watermarkFrom === "sources") return flushBySources(deps, progress);
  const nowMs = deps.nowMs();
  const current = watermarkOf(progress, pipeline.watermarkDelayMs);
  const lastEventTimeMs = current.maxEventTimeMs;
  let watermarkMs = current.watermarkMs;
  if (pipeline.idleCloseMs !== undefined) {
    watermarkMs = idleWatermark(
      watermarkMs,
      lastEventTimeMs,
      maxOf(progress.partitions.map((p) => p.updatedAtMs)),
      nowMs,
      pipeline.idleCloseMs,
      pipeline.watermarkDelayMs,
    );
  }
  if (watermarkMs !== undefined && watermarkMs !== progress.watermarkMs) {
    // Recorded before emitting: an event arriving later for a closed window is then late, not lost.
    await store.advanceWatermark(pipeline.name, watermarkMs);
  }
  const aggregator = aggregatorFor(pipeline.aggregations);
  let emitted = 0;
  for (const partition of progress.partitions) {
    if (nowMs - partition.updatedAtMs < FLUSH_QUIET_MS) continue;
    const due = partition.openEndsMs.filter((end) => isDue(end, watermarkMs));
    emitted += await emitDueWindows(deps, aggregator, partition.partition, due);
  }
  return { emitted, watermarkMs };
}

/**
 * `watermarkFrom: "sources"`: each quiet partition's own watermark, recomputed at the wall clock
 * now (a source idle for `sourceIdle` stops holding it back; with `idleClose`, moved on with the
 * wall clock once the whole pipeline was idle that long), recorded, then its due windows emitted.
 */
async function flushBySources(
  deps: Omit<WindowDeps, "checkpoint">,
  progress: PipelineProgress,
): Promise<FlushCounts> {
  const { pipeline, store } = deps;
  const nowMs = deps.nowMs();
  const aggregator = aggregatorFor(pipeline.aggregations);
  let emitted = 0;
  let lowestMs: number | undefined;
  // A source is idle only if no partition heard from it lately: a paused partition's stale view
  // of a source that others still hear from must not let its windows close under its backlog.
  const lastSeenMs = new Map<string, number>();
  for (const p of progress.partitions)
    for (const s of p.sources ?? [])
      lastSeenMs.set(s.source, Math.max(lastSeenMs.get(s.source) ?? s.seenAtMs, s.seenAtMs));
  // idleClose (beyond Spark): once no partition heard anything for that long, time is taken to
  // have moved on, as the `max` policy does, from the newest event any partition has heard of.
  const newestEventMs = maxOf(
    progress.partitions.flatMap((p) => [
      p.maxEventTimeMs,
      ...(p.sources ?? []).map((s) => s.maxEventTimeMs),
    ]),
  );
  const lastProgressWallMs = maxOf([
    ...progress.partitions.map((p) => p.updatedAtMs),
    ...lastSeenMs.values(),
  ]);
  for (const partition of progress.partitions) {
    if (nowMs - partition.updatedAtMs < FLUSH_QUIET_MS) continue;
    const sources = (partition.sources ?? []).map((s) => ({
      ...s,
      seenAtMs: lastSeenMs.get(s.source) ?? s.seenAtMs,
    }));
    let watermarkMs = sourceWatermark(partition.watermarkMs, sources, {
      delayMs: pipeline.watermarkDelayMs,
      idleMs: pipeline.sourceIdleMs,
      expectedSources: deps.expectedSources,
      nowMs,
      sinceMs: partition.sinceMs ?? nowMs,
    });
    if (pipeline.idleCloseMs !== undefined) {
      watermarkMs = idleWatermark(
        watermarkMs,
        newestEventMs,
        lastProgressWallMs,
        nowMs,
        pipeline.idleCloseMs,
        pipeline.watermarkDelayMs,
      );
    }
    if (watermarkMs !== undefined && watermarkMs !== partition.watermarkMs) {
      // Recorded before emitting: an event arriving later for a closed window is late, not lost.
      // A failed guard means an invocation moved it further meanwhile: it emits its own windows.
      if (!(await store.recordSources(pipeline.name, partition.partition, [], watermarkMs, nowMs)))
        continue;
    }
    lowestMs = lowestMs === undefined ? watermarkMs : Math.min(lowestMs, watermarkMs ?? lowestMs);
    const due = partition.openEndsMs.filter((end) => isDue(end, watermarkMs));
    emitted += await emitDueWindows(deps, aggregator, partition.partition, due);
  }
  return { emitted, watermarkMs: lowestMs };
}
