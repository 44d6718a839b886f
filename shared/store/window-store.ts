/** Identifies one window of one group key. Times are epoch milliseconds, the window half-open. */
export interface WindowId {
  readonly groupKey: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** A window's stored state. `S` is the engine's aggregation state (plain JSON). */
export interface StoredWindow<S = unknown> extends WindowId {
  /** The repartition partition whose invocations own the window (index shard for closing). */
  readonly partition: number;
  readonly state: S;
  /**
   * Per source partition (`topic/partition`), the highest source offset already applied. A retry
   * re-produces a prefix of what it produced before, in order, so anything at or below is a
   * duplicate: this is what makes state exactly-once.
   */
  readonly applied: Readonly<Record<string, number>>;
  /** Optimistic-locking version: every write expects the one it read. */
  readonly version: number;
  /** Open in final mode: listed in the due index until emitted. */
  readonly open: boolean;
  /** When the result was acknowledged by the broker (epoch ms); absent until emitted. */
  readonly emittedAtMs?: number;
  /** When DynamoDB's TTL may delete the window (epoch ms); set when it can no longer change. */
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
  getWindows(pipeline: string, ids: readonly WindowId[]): Promise<Map<string, StoredWindow>>;
  /** Writes a window if its stored version is still `expectedVersion` (undefined: must not exist). */
  putWindow(
    pipeline: string,
    window: StoredWindow,
    expectedVersion: number | undefined,
  ): Promise<boolean>;
  /** The open windows of `partition` that end at `endMs`. */
  openWindowsEndingAt(pipeline: string, partition: number, endMs: number): Promise<WindowId[]>;
  /**
   * Marks a window emitted unless it already is (returns false then), bumping its version so a
   * writer holding the state from before cannot overwrite the emitted window.
   */
  markEmitted(
    pipeline: string,
    id: WindowId,
    emittedAtMs: number,
    expiresAtMs: number,
  ): Promise<boolean>;
  readonly stats: StoreStats;
}

/** The map key of a window id in results of {@link WindowStore.getWindows}. */
export const windowKey = (id: WindowId): string =>
  `${id.groupKey}\u0000${id.startMs}\u0000${id.endMs}`;

/** Fresh, zeroed stats. */
export const emptyStats = (): StoreStats => ({
  calls: 0,
  readCapacityUnits: 0,
  writeCapacityUnits: 0,
  conditionalFailures: 0,
});
