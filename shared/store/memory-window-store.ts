import {
  emptyStats,
  type PipelineProgress,
  type StoredWindow,
  type WindowId,
  type WindowStore,
  windowKey,
} from "./window-store.ts";

/**
 * {@link WindowStore} in memory, with the DynamoDB implementation's conditions (version checks,
 * monotonic progress, emit-once), for unit tests of the use cases. Not for production: state
 * must outlive a Lambda container.
 */
export class MemoryWindowStore implements WindowStore {
  readonly stats = emptyStats();
  private readonly windows = new Map<string, StoredWindow>();
  private readonly watermarks = new Map<string, number>();
  private readonly progress = new Map<
    string,
    Map<number, { maxEventTimeMs: number; openEnds: Set<number> }>
  >();

  async readProgress(pipeline: string): Promise<PipelineProgress> {
    this.stats.calls++;
    const partitions = [...(this.progress.get(pipeline) ?? new Map()).entries()]
      .sort(([a], [b]) => a - b)
      .map(([partition, p]) => ({
        partition,
        maxEventTimeMs: p.maxEventTimeMs,
        updatedAtMs: p.updatedAtMs,
        openEndsMs: [...p.openEnds].sort((a, b) => a - b),
      }));
    return { watermarkMs: this.watermarks.get(pipeline), partitions };
  }

  async recordProgress(
    pipeline: string,
    partition: number,
    maxEventTimeMs: number,
    openedEndsMs: readonly number[],
    nowMs: number,
  ) {
    this.stats.calls += 2;
    const partitions = this.progress.get(pipeline) ?? new Map();
    this.progress.set(pipeline, partitions);
    const current = partitions.get(partition) ?? {
      maxEventTimeMs: Number.NEGATIVE_INFINITY,
      openEnds: new Set(),
    };
    current.maxEventTimeMs = Math.max(current.maxEventTimeMs, maxEventTimeMs);
    current.updatedAtMs = nowMs;
    for (const end of openedEndsMs) current.openEnds.add(end);
    partitions.set(partition, current);
  }

  async advanceWatermark(pipeline: string, watermarkMs: number): Promise<void> {
    this.stats.calls++;
    this.watermarks.set(
      pipeline,
      Math.max(this.watermarks.get(pipeline) ?? watermarkMs, watermarkMs),
    );
  }

  async closeEnds(pipeline: string, partition: number, endsMs: readonly number[]): Promise<void> {
    if (endsMs.length === 0) return;
    this.stats.calls++;
    const current = this.progress.get(pipeline)?.get(partition);
    for (const end of endsMs) current?.openEnds.delete(end);
  }

  async getWindows(pipeline: string, ids: readonly WindowId[]): Promise<Map<string, StoredWindow>> {
    this.stats.calls += Math.ceil(ids.length / 100);
    const found = new Map<string, StoredWindow>();
    for (const id of ids) {
      const window = this.windows.get(this.key(pipeline, id));
      if (window) found.set(windowKey(id), structuredClone(window));
    }
    return found;
  }

  async putWindow(
    pipeline: string,
    window: StoredWindow,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    this.stats.calls++;
    const key = this.key(pipeline, window);
    if (this.windows.get(key)?.version !== expectedVersion) {
      this.stats.conditionalFailures++;
      return false;
    }
    this.stats.writeCapacityUnits++;
    this.windows.set(key, structuredClone(window));
    return true;
  }

  async openWindowsEndingAt(
    pipeline: string,
    partition: number,
    endMs: number,
  ): Promise<WindowId[]> {
    this.stats.calls++;
    const prefix = `${pipeline}\u0001`;
    return [...this.windows.entries()]
      .filter(
        ([key, w]) =>
          key.startsWith(prefix) && w.open && w.partition === partition && w.endMs === endMs,
      )
      .map(([, w]) => ({ groupKey: w.groupKey, startMs: w.startMs, endMs: w.endMs }));
  }

  async markEmitted(pipeline: string, id: WindowId, emittedAtMs: number): Promise<boolean> {
    this.stats.calls++;
    const key = this.key(pipeline, id);
    const window = this.windows.get(key);
    if (!window || window.emittedAtMs !== undefined) {
      this.stats.conditionalFailures++;
      return false;
    }
    this.windows.set(key, { ...window, open: false, emittedAtMs, version: window.version + 1 });
    return true;
  }

  private key(pipeline: string, id: WindowId): string {
    return `${pipeline}\u0001${windowKey(id)}`;
  }
}
