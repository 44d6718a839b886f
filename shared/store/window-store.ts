/** Identifies one window of one group key. Times are epoch milliseconds, the window half-open. */
export interface WindowId {
  readonly groupKey: string;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * Identifies one item of window state: the group keys of one bucket (a hash of the key, see
 * `engine/buckets.ts`), in one window, of one repartition partition. A partition has one
 * invocation in flight, so its items have one writer in the normal case.
 */
export interface ShardId {
  readonly partition: number;
  readonly bucket: number;
  readonly startMs: number;
  readonly endMs: number;
}

/** A shard's stored state. `S` is the engine's aggregation state (plain JSON). */
export interface StoredShard<S = unknown> extends ShardId {
  /** Aggregation state per group key. */
  readonly entries: ReadonlyMap<string, S>;
  /**
   * Per source partition (`topic/partition`), the highest source offset already applied. A retry
   * re-produces a prefix of what it produced before, in order, so anything at or below is a
   * duplicate: this is what makes state exactly-once.
   */
  readonly applied: Readonly<Record<string, number>>;
  /** Optimistic-locking version: every write expects the one it read. */
  readonly version: number;
  /**
   * Final mode: when the window closed (epoch ms). Set before its results are produced, so a
   * writer still holding the open state fails its version check and finds its events late.
   */
  readonly closedAtMs?: number;
  /** When DynamoDB's TTL may delete the shard (epoch ms); set when it can no longer change. */
  readonly expiresAtMs?: number;
}

/** A partition's progress: the highest event time it has seen and the window ends still open. */
export interface PartitionProgress {
  readonly partition: number;
  readonly maxEventTimeMs: number;
  /** Wall-clock time of the partition's last batch (epoch ms), for idle close. */
  readonly updatedAtMs: number;
  readonly openEndsMs: readonly number[];
}

export interface PipelineProgress {
  /** Undefined until the first batch moved it. */
  readonly watermarkMs: number | undefined;
  readonly partitions: readonly PartitionProgress[];
}

/** DynamoDB calls and capacity, for cost figures (calls per 1,000 events and so on). */
export interface StoreStats {
  calls: number;
  readCapacityUnits: number;
  writeCapacityUnits: number;
  conditionalFailures: number;
}

/**
 * Where window state lives. The DynamoDB implementation is the product; the in-memory one keeps
 * the use cases' unit tests pure. Every method is one logical DynamoDB operation.
 */
export interface WindowStore {
  readProgress(pipeline: string): Promise<PipelineProgress>;
  /** Records a partition's max event time (never lowering it), window ends opened there, and when. */
  recordProgress(
    pipeline: string,
    partition: number,
    maxEventTimeMs: number,
    openedEndsMs: readonly number[],
    nowMs: number,
  ): Promise<void>;
  /** Moves the watermark forward; a lower or equal value leaves it as it is. */
  advanceWatermark(pipeline: string, watermarkMs: number): Promise<void>;
  /** Forgets window ends whose windows have all been emitted. */
  closeEnds(pipeline: string, partition: number, endsMs: readonly number[]): Promise<void>;
  getShards(pipeline: string, ids: readonly ShardId[]): Promise<Map<string, StoredShard>>;
  /** Writes a shard if its stored version is still `expectedVersion` (undefined: must not exist). */
  putShard(
    pipeline: string,
    shard: StoredShard,
    expectedVersion: number | undefined,
  ): Promise<boolean>;
  /**
   * Closes a shard whose stored version is still `readVersion` and that is not closed yet (false
   * otherwise), bumping its version so no writer holding an older state can change it. A shard
   * that does not exist (`readVersion` undefined) is created closed and empty: a writer that read
   * nothing there cannot create it after the window's results went out.
   */
  closeShard(
    pipeline: string,
    id: ShardId,
    readVersion: number | undefined,
    closedAtMs: number,
    expiresAtMs: number,
  ): Promise<boolean>;
  readonly stats: StoreStats;
}

/** The map key of a shard id in results of {@link WindowStore.getShards}. */
export const shardKey = (id: ShardId): string =>
  `${id.partition}#${id.bucket}#${id.startMs}#${id.endMs}`;

/** Fresh, zeroed stats. */
export const emptyStats = (): StoreStats => ({
  calls: 0,
  readCapacityUnits: 0,
  writeCapacityUnits: 0,
  conditionalFailures: 0,
});
