import type { SourceProgress } from "../engine/source-watermark.ts";
import {
  emptyStats,
  maxEventTimeOf,
  type OpenedEnds,
  type PipelineProgress,
  requireOpened,
  SHARD_TRANSITIONS,
  type ShardId,
  type StateLayout,
  type StoredShard,
  shardKey,
  shardState,
  type WindowStore,
} from "./window-store.ts";

interface MemoryProgress {
  maxEventTimeMs: number | undefined;
  updatedAtMs: number;
  openEnds: Set<number>;
  watermarkMs?: number;
  sources?: SourceProgress[];
  sinceMs?: number;
}

/**
 * {@link WindowStore} in memory, with the DynamoDB implementation's conditions (the guards of
 * {@link SHARD_TRANSITIONS}, monotonic progress), for unit tests of the use cases. Not for
 * production: state must outlive a Lambda container. `maxItemBytes` lets a test reach the split
 * path with small shards.
 */
export class MemoryWindowStore implements WindowStore {
  readonly stats = emptyStats();
  private readonly shards = new Map<string, StoredShard>();
  private readonly watermarks = new Map<string, number>();
  private readonly layouts = new Map<string, StateLayout>();
  private readonly progress = new Map<string, Map<number, MemoryProgress>>();

  constructor(private readonly maxItemBytes = 350_000) {}

  async readProgress(pipeline: string): Promise<PipelineProgress> {
    this.stats.calls++;
    return this.progressNow(pipeline);
  }

  async readPartition(pipeline: string, partition: number) {
    this.stats.calls++;
    return this.progressNow(pipeline).partitions.find((p) => p.partition === partition);
  }

  async recordSources(
    pipeline: string,
    partition: number,
    sources: readonly SourceProgress[],
    watermarkMs: number | undefined,
    nowMs: number,
  ): Promise<boolean> {
    this.stats.calls++;
    const current = this.partitionProgress(pipeline, partition);
    const known = new Map((current.sources ?? []).map((s) => [s.source, s]));
    const regresses =
      sources.some((s) => (known.get(s.source)?.maxEventTimeMs ?? -Infinity) > s.maxEventTimeMs) ||
      (watermarkMs !== undefined && (current.watermarkMs ?? -Infinity) > watermarkMs);
    if (regresses) {
      this.stats.conditionalFailures++;
      return false;
    }
    for (const s of sources) known.set(s.source, structuredClone(s));
    current.sources = [...known.values()].sort((a, b) => a.source.localeCompare(b.source));
    if (watermarkMs !== undefined) current.watermarkMs = watermarkMs;
    current.sinceMs ??= nowMs;
    return true;
  }

  async recordLayout(pipeline: string, layout: StateLayout): Promise<boolean> {
    this.stats.calls++;
    const recorded = this.layouts.get(pipeline);
    if (!recorded) this.layouts.set(pipeline, { ...layout });
    return (
      !recorded ||
      (recorded.partitions === layout.partitions && recorded.stateBuckets === layout.stateBuckets)
    );
  }

  async openWindows(
    pipeline: string,
    partition: number,
    endsMs: readonly number[],
    nowMs: number,
  ): Promise<OpenedEnds> {
    this.stats.calls++;
    const current = this.partitionProgress(pipeline, partition);
    current.updatedAtMs = nowMs;
    for (const end of endsMs) current.openEnds.add(end);
    return { partition, endsMs: new Set(endsMs) };
  }

  async recordProgress(pipeline: string, partition: number, maxEventTimeMs: number) {
    this.stats.calls++;
    const current = this.partitionProgress(pipeline, partition);
    current.maxEventTimeMs = Math.max(current.maxEventTimeMs ?? maxEventTimeMs, maxEventTimeMs);
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

  async fits(_pipeline: string, shard: StoredShard): Promise<boolean> {
    const bytes = JSON.stringify([Object.fromEntries(shard.entries), shard.applied]).length;
    return bytes <= this.maxItemBytes;
  }

  async putShard(
    pipeline: string,
    opened: OpenedEnds,
    shard: StoredShard,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    requireOpened(opened, shard);
    if (!(await this.fits(pipeline, shard))) throw new Error("shard too large: split it first");
    this.stats.calls++;
    const key = this.key(pipeline, shard);
    const stored = this.shards.get(key);
    if (
      !(SHARD_TRANSITIONS.write.from as readonly string[]).includes(shardState(stored)) ||
      stored?.version !== expectedVersion
    ) {
      this.stats.conditionalFailures++;
      return false;
    }
    this.stats.writeCapacityUnits++;
    this.shards.set(key, structuredClone(shard));
    return true;
  }

  async splitShard(
    pipeline: string,
    opened: OpenedEnds,
    shard: StoredShard,
    children: readonly [StoredShard, StoredShard],
  ): Promise<boolean> {
    requireOpened(opened, shard);
    this.stats.calls++;
    const key = this.key(pipeline, shard);
    const stored = this.shards.get(key);
    if (
      !(SHARD_TRANSITIONS.split.from as readonly string[]).includes(shardState(stored)) ||
      // version 0: the leaf was absent (one batch alone brings more than an item holds)
      stored?.version !== (shard.version === 0 ? undefined : shard.version) ||
      children.some((c) => this.shards.has(this.key(pipeline, c)))
    ) {
      this.stats.conditionalFailures++;
      return false;
    }
    this.stats.writeCapacityUnits += 3;
    this.shards.set(key, {
      ...shard,
      entries: new Map(),
      version: shard.version + 1,
      split: true,
    });
    for (const child of children)
      this.shards.set(this.key(pipeline, child), structuredClone(child));
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
    if (
      !(SHARD_TRANSITIONS.close.from as readonly string[]).includes(shardState(shard)) ||
      shard?.version !== readVersion
    ) {
      this.stats.conditionalFailures++;
      return false;
    }
    const closed = { entries: new Map(), applied: {}, ...shard, ...id, closedAtMs, expiresAtMs };
    this.shards.set(key, { ...closed, version: (readVersion ?? 0) + 1 });
    return true;
  }

  /** Every shard of a pipeline as stored (tests' invariant checks; not a store call). */
  allShards(pipeline: string): StoredShard[] {
    return [...this.shards]
      .filter(([key]) => key.startsWith(`${pipeline}\u0001`))
      .map(([, shard]) => structuredClone(shard));
  }

  /** {@link readProgress} without counting a call (tests' invariant checks). */
  progressNow(pipeline: string): PipelineProgress {
    const partitions = [...(this.progress.get(pipeline) ?? new Map()).entries()]
      .sort(([a], [b]) => a - b)
      .map(([partition, p]: [number, MemoryProgress]) => ({
        partition,
        maxEventTimeMs: maxEventTimeOf(p.maxEventTimeMs, p.sources),
        updatedAtMs: p.updatedAtMs,
        openEndsMs: [...p.openEnds].sort((a, b) => a - b),
        ...(p.watermarkMs === undefined ? {} : { watermarkMs: p.watermarkMs }),
        ...(p.sources ? { sources: structuredClone(p.sources) } : {}),
        ...(p.sinceMs === undefined ? {} : { sinceMs: p.sinceMs }),
      }));
    return {
      watermarkMs: this.watermarks.get(pipeline),
      partitions,
      layout: this.layouts.get(pipeline),
    };
  }

  private partitionProgress(pipeline: string, partition: number): MemoryProgress {
    const partitions = this.progress.get(pipeline) ?? new Map<number, MemoryProgress>();
    this.progress.set(pipeline, partitions);
    const current = partitions.get(partition) ?? {
      maxEventTimeMs: undefined,
      updatedAtMs: 0,
      openEnds: new Set<number>(),
    };
    partitions.set(partition, current);
    return current;
  }

  private key(pipeline: string, id: ShardId): string {
    return `${pipeline}\u0001${shardKey(id)}`;
  }
}
