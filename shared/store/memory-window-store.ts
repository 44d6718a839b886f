import {
  emptyStats,
  type PipelineProgress,
  type ShardId,
  type StoredShard,
  shardKey,
  type WindowStore,
} from "./window-store.ts";

/**
 * {@link WindowStore} in memory, with the DynamoDB implementation's conditions (version checks,
 * monotonic progress, emit-once), for unit tests of the use cases. Not for production: state
 * must outlive a Lambda container.
 */
export class MemoryWindowStore implements WindowStore {
  readonly stats = emptyStats();
  private readonly shards = new Map<string, StoredShard>();
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

  async getShards(pipeline: string, ids: readonly ShardId[]): Promise<Map<string, StoredShard>> {
    this.stats.calls += Math.ceil(ids.length / 100);
    const found = new Map<string, StoredShard>();
    for (const id of ids) {
      const shard = this.shards.get(this.key(pipeline, id));
      if (shard) found.set(shardKey(id), structuredClone(shard));
    }
    return found;
  }

  async putShard(
    pipeline: string,
    shard: StoredShard,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    this.stats.calls++;
    const key = this.key(pipeline, shard);
    if (this.shards.get(key)?.version !== expectedVersion) {
      this.stats.conditionalFailures++;
      return false;
    }
    this.stats.writeCapacityUnits++;
    this.shards.set(key, structuredClone(shard));
    return true;
  }

  async closeShard(
    pipeline: string,
    id: ShardId,
    readVersion: number | undefined,
    closedAtMs: number,
    expiresAtMs: number,
  ): Promise<boolean> {
    this.stats.calls++;
    const key = this.key(pipeline, id);
    const shard = this.shards.get(key);
    if (shard?.version !== readVersion || shard?.closedAtMs !== undefined) {
      this.stats.conditionalFailures++;
      return false;
    }
    const closed = { entries: new Map(), applied: {}, ...shard, ...id, closedAtMs, expiresAtMs };
    this.shards.set(key, { ...closed, version: (readVersion ?? 0) + 1 });
    return true;
  }

  private key(pipeline: string, id: ShardId): string {
    return `${pipeline}\u0001${shardKey(id)}`;
  }
}
