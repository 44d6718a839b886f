/**
 * What a repartition partition knows of one source partition's progress: the highest event time
 * it has seen from it (in its events or in the progress markers the parse step sends to every
 * repartition partition after each batch, see `codec/repartition.ts`), and when.
 */
export interface SourceProgress {
  /** `<topic>/<partition>`. */
  readonly source: string;
  readonly maxEventTimeMs: number;
  /** Wall clock (epoch ms) when it last made progress here. */
  readonly seenAtMs: number;
  /** Its last batch was full: it has records it has not processed, so it is never idle. */
  readonly behind: boolean;
}

export interface SourceWatermarkRule {
  readonly delayMs: number;
  /** Wall-clock time after which a caught-up source stops holding the watermark; off if undefined. */
  readonly idleMs: number | undefined;
  /** How many source partitions feed the pipeline, when known: until all were seen, none is assumed. */
  readonly expectedSources: number | undefined;
  readonly nowMs: number;
  /** Wall clock of this partition's first progress: the idle time also bounds the wait for sources. */
  readonly sinceMs: number;
}

/**
 * The watermark of one repartition partition, from every source partition's progress (as Flink
 * derives it from per-split watermarks): the minimum over the sources of their maximum event time,
 * minus the delay, never moving back. A source that made no progress for `idleMs` of wall-clock
 * time and is not behind is left out (Flink's `withIdleness`); when every source is idle, the
 * maximum over them counts (everything produced has been seen). While fewer sources than expected
 * have been seen, the watermark waits — for at most `idleMs` since the partition's first progress.
 * Never lower than Spark's rule would make it for the same events seen in one batch, since the
 * minimum over sources is at most the maximum: it drops no more than Spark and may emit later.
 */
export function sourceWatermark(
  previousMs: number | undefined,
  sources: readonly SourceProgress[],
  rule: SourceWatermarkRule,
): number | undefined {
  if (sources.length === 0) return previousMs;
  const idle = (s: SourceProgress) =>
    !s.behind && rule.idleMs !== undefined && rule.nowMs - s.seenAtMs >= rule.idleMs;
  const waitedLongEnough = rule.idleMs !== undefined && rule.nowMs - rule.sinceMs >= rule.idleMs;
  if (
    rule.expectedSources !== undefined &&
    sources.length < rule.expectedSources &&
    !waitedLongEnough
  ) {
    return previousMs;
  }
  const active = sources.filter((s) => !idle(s));
  const times = (active.length > 0 ? active : sources).map((s) => s.maxEventTimeMs);
  const candidate = (active.length > 0 ? Math.min(...times) : Math.max(...times)) - rule.delayMs;
  return previousMs === undefined ? candidate : Math.max(previousMs, candidate);
}

/** Merges newer progress into what a partition knew, per source (max event time never lowered). */
export function mergeSourceProgress(
  known: readonly SourceProgress[],
  seen: readonly SourceProgress[],
): SourceProgress[] {
  const merged = new Map(known.map((s) => [s.source, s]));
  for (const s of seen) {
    const before = merged.get(s.source);
    merged.set(s.source, {
      source: s.source,
      maxEventTimeMs: Math.max(before?.maxEventTimeMs ?? s.maxEventTimeMs, s.maxEventTimeMs),
      seenAtMs: Math.max(before?.seenAtMs ?? s.seenAtMs, s.seenAtMs),
      behind: s.behind,
    });
  }
  return [...merged.values()].sort((a, b) => a.source.localeCompare(b.source));
}
