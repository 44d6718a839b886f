/**
 * The watermark after a batch, as Spark computes it at the end of a micro-batch: the maximum event
 * time seen so far minus the delay, never moving back. `undefined` until an event was seen.
 */
export function advanceWatermark(
  currentMs: number | undefined,
  maxEventTimeMs: number | undefined,
  delayMs: number,
): number | undefined {
  if (maxEventTimeMs === undefined) return currentMs;
  const candidate = maxEventTimeMs - delayMs;
  return currentMs === undefined ? candidate : Math.max(currentMs, candidate);
}

/** Spark drops a row's contribution to a window iff the window ended at or before the watermark in force before its batch. */
export function isLate(windowEndMs: number, watermarkBeforeBatchMs: number | undefined): boolean {
  return watermarkBeforeBatchMs !== undefined && windowEndMs <= watermarkBeforeBatchMs;
}

/** In final (append) mode a window is emitted once the watermark reaches its end. */
export function isDue(windowEndMs: number, watermarkMs: number | undefined): boolean {
  return watermarkMs !== undefined && windowEndMs <= watermarkMs;
}

/**
 * Beyond Spark: the watermark a window may close by when the pipeline has been idle. After
 * `idleCloseMs` of wall-clock time with no new event, time is taken to have moved on by as much
 * (the watermark advances as if an event at `lastEventTimeMs + idle` had arrived).
 */
export function idleWatermark(
  watermarkMs: number | undefined,
  lastEventTimeMs: number | undefined,
  lastProgressWallMs: number | undefined,
  nowMs: number,
  idleCloseMs: number,
  delayMs: number,
): number | undefined {
  if (lastEventTimeMs === undefined || lastProgressWallMs === undefined) return watermarkMs;
  const idleForMs = nowMs - lastProgressWallMs;
  if (idleForMs < idleCloseMs) return watermarkMs;
  return advanceWatermark(watermarkMs, lastEventTimeMs + idleForMs, delayMs);
}

/** The largest defined value, or undefined when there is none. */
export function maxOf(values: ReadonlyArray<number | undefined>): number | undefined {
  let max: number | undefined;
  for (const v of values) if (v !== undefined && (max === undefined || v > max)) max = v;
  return max;
}
