import type { SourceProgress } from "../engine/source-watermark.ts";

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
 *
 * `path` is where a shard sits in its bucket's split tree: `""` (or absent) for the bucket's root
 * item; a shard that grew near DynamoDB's item limit is split into `path + "0"` and `path + "1"`
 * (keys routed by {@link splitBitOf}), so no item ever has to exceed the limit.
 */
export interface ShardId {
  readonly partition: number;
  readonly bucket: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly path?: string;
}

/** A shard's stored state. `S` is the engine's aggregation state (plain JSON). */
export interface StoredShard<S = unknown> extends ShardId {
  /** Aggregation state per group key. */
  readonly entries: ReadonlyMap<string, S>;
  /**
   * Per source partition (`topic/partition`), the highest source offset already applied. A retry
   * re-produces a prefix of what it produced before, in order, so anything at or below is a
   * duplicate: this is what makes state exactly-once. A split copies it into both children: the
   * claim "every event of this key range at or below is applied" holds for any sub-range.
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
  /** The shard was split: its keys live in its two children, it holds none and never changes. */
  readonly split?: true;
}

/**
 * The life of a window shard, named once. Every store write is one transition; its guard (the
 * DynamoDB condition, and the in-memory store's check) admits exactly the `from` states listed
 * here, so the two stores cannot drift apart.
 *
 * - absent: no item. `open` a window (its end in the partition's open ends) before any write.
 * - open: an item with entries and applied offsets, written under optimistic versions.
 * - split: the keys moved to two children (each open); the item never changes again.
 * - closed: `closedAtMs` set (a tombstone if it was absent); no write may change it. Its results
 *   may be (re)produced from it, byte-identical, until the end is forgotten; TTL deletes it later.
 */
export const SHARD_TRANSITIONS = {
  /** putShard: create or update entries. */
  write: { from: ["absent", "open"], to: "open" },
  /** splitShard: move a leaf's keys (none when absent: one batch brings too many) into two absent children. */
  split: { from: ["absent", "open"], to: "split" },
  /** closeShard: no write may land after it. */
  close: { from: ["absent", "open"], to: "closed" },
} as const;

/** The state of a stored shard (or of none), as {@link SHARD_TRANSITIONS} names it. */
export function shardState(shard: StoredShard | undefined): "absent" | "open" | "split" | "closed" {
  if (!shard) return "absent";
  if (shard.split) return "split";
  return shard.closedAtMs === undefined ? "open" : "closed";
}

/**
 * Proof that a partition's window ends were recorded as open before state is written for them:
 * the one thing {@link WindowStore.putShard} and {@link WindowStore.splitShard} require. A window
 * with state whose end nobody lists would never be closed; a listed end with no state only costs
 * a tombstone when it closes.
 */
export interface OpenedEnds {
  readonly partition: number;
  readonly endsMs: ReadonlySet<number>;
}

/** A partition's progress: the highest event time it has seen and the window ends still open. */
export interface PartitionProgress {
  readonly partition: number;
  /** `watermarkFrom: "sources"`: this partition's own watermark (monotonic). */
  readonly watermarkMs?: number;
  /** `watermarkFrom: "sources"`: what this partition knows of each source partition's progress. */
  readonly sources?: readonly SourceProgress[];
  /** Wall clock of the partition's first recorded sources. */
  readonly sinceMs?: number;
  /**
   * Undefined while the partition opened windows but recorded no batch yet. With `sources`, the
   * newest its sources reached ({@link maxEventTimeOf}): their record is its progress write.
   */
  readonly maxEventTimeMs: number | undefined;
  /** Wall-clock time of the partition's last batch (epoch ms), for idle close. */
  readonly updatedAtMs: number;
  readonly openEndsMs: readonly number[];
}

/** What the state's layout depends on: changing either moves keys to other items. */
export interface StateLayout {
  readonly partitions: number;
  readonly stateBuckets: number;
}

export interface PipelineProgress {
  /** Undefined until the first batch moved it. */
  readonly watermarkMs: number | undefined;
  readonly partitions: readonly PartitionProgress[];
  /** The layout the state was written with; undefined before the first batch. */
  readonly layout: StateLayout | undefined;
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
 * the use cases' unit tests pure. Every method is one logical DynamoDB operation; every write is a
 * transition of {@link SHARD_TRANSITIONS} or of a partition's progress, with its guard.
 */
export interface WindowStore {
  /**
   * The watermark, every partition's progress and the recorded layout: one Query, then the
   * partitions' items (of `partitions`, or of the recorded layout's count) in BatchGets. For the
   * flush and tools; a window invocation reads only its own partition ({@link readPartition}).
   */
  readProgress(pipeline: string, partitions?: number): Promise<PipelineProgress>;
  /** One partition's progress (one consistent GetItem), undefined before its first batch. */
  readPartition(pipeline: string, partition: number): Promise<PartitionProgress | undefined>;
  /**
   * `watermarkFrom: "sources"`: records source progress and the partition's watermark, if no
   * source's max event time and not the watermark would move back (false otherwise: re-read,
   * merge and try again).
   */
  recordSources(
    pipeline: string,
    partition: number,
    sources: readonly SourceProgress[],
    watermarkMs: number | undefined,
    nowMs: number,
  ): Promise<boolean>;
  /** Records the layout if none is; false if another one is recorded. */
  recordLayout(pipeline: string, layout: StateLayout): Promise<boolean>;
  /**
   * Adds window ends to a partition's open ends (a set: idempotent) and stamps its wall clock —
   * before any state is written for them. Returns the token the state writes require.
   */
  openWindows(
    pipeline: string,
    partition: number,
    endsMs: readonly number[],
    nowMs: number,
  ): Promise<OpenedEnds>;
  /** Records a partition's max event time, never lowering it (a retry may bring an older one). */
  recordProgress(pipeline: string, partition: number, maxEventTimeMs: number): Promise<void>;
  /** Moves the watermark forward; a lower or equal value leaves it as it is. */
  advanceWatermark(pipeline: string, watermarkMs: number): Promise<void>;
  /** Forgets window ends whose windows have all been closed and emitted. */
  closeEnds(pipeline: string, partition: number, endsMs: readonly number[]): Promise<void>;
  getShards(pipeline: string, ids: readonly ShardId[]): Promise<Map<string, StoredShard>>;
  /**
   * Writes an open shard if its stored version is still `expectedVersion` (undefined: must not
   * exist). Guard: {@link SHARD_TRANSITIONS}.write. Never exceeds an item's size: a shard that
   * would is refused with {@link ShardTooLargeError} before any call (split it first;
   * {@link WindowStore.fits} says when).
   */
  putShard(
    pipeline: string,
    opened: OpenedEnds,
    shard: StoredShard,
    expectedVersion: number | undefined,
  ): Promise<boolean>;
  /**
   * Splits the open leaf `shard` (still at `shard.version`) into its two children, atomically:
   * the leaf becomes a split node and the children are created with its keys and its applied
   * offsets. Guard: {@link SHARD_TRANSITIONS}.split (and both children absent).
   */
  splitShard(
    pipeline: string,
    opened: OpenedEnds,
    shard: StoredShard,
    children: readonly [StoredShard, StoredShard],
  ): Promise<boolean>;
  /**
   * Whether a shard's item stays within the store's item-size limit (with its margin). No call is
   * made; async so that wrappers that make every method async (fault injection) keep it working.
   */
  fits(pipeline: string, shard: StoredShard): Promise<boolean>;
  /**
   * Closes a shard whose stored version is still `readVersion` and that is not closed yet (false
   * otherwise), bumping its version so no writer holding an older state can change it. A shard
   * that does not exist (`readVersion` undefined) is created closed and empty: a writer that read
   * nothing there cannot create it after the window's results went out. Guard:
   * {@link SHARD_TRANSITIONS}.close.
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

/**
 * A partition's newest event time as both stores report it: the one `recordProgress` wrote
 * (`max`) or the newest of its sources (`sources`), whichever is later.
 */
export function maxEventTimeOf(
  recordedMs: number | undefined,
  sources: readonly SourceProgress[] | undefined,
): number | undefined {
  let newest = recordedMs;
  for (const s of sources ?? []) newest = Math.max(newest ?? s.maxEventTimeMs, s.maxEventTimeMs);
  return newest;
}

/** The map key of a shard id in results of {@link WindowStore.getShards}. */
export const shardKey = (id: ShardId): string =>
  `${id.partition}#${id.bucket}#${id.startMs}#${id.endMs}${id.path ? `#${id.path}` : ""}`;

/** The two children of a split shard. */
export function childrenOf(id: ShardId): [ShardId, ShardId] {
  const { partition, bucket, startMs, endMs } = id;
  const path = id.path ?? "";
  return [
    { partition, bucket, startMs, endMs, path: `${path}0` },
    { partition, bucket, startMs, endMs, path: `${path}1` },
  ];
}

/**
 * Which child of a shard at split depth `depth` a group key goes to: bit `depth` of a second
 * FNV-1a hash (another offset basis than the bucket's, so keys of one bucket spread evenly).
 * Stable forever, like the bucket hash: stored state is laid out by it.
 */
export function splitBitOf(groupKey: string, depth: number): "0" | "1" {
  let hash = 0x050c5d1f;
  for (let i = 0; i < groupKey.length; i++) {
    hash ^= groupKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return ((hash >>> 0) >>> (depth % 32)) & 1 ? "1" : "0";
}

/** Fails a write whose window end was not opened first: the order the protocol depends on. */
export function requireOpened(opened: OpenedEnds, id: ShardId): void {
  if (opened.partition !== id.partition || !opened.endsMs.has(id.endMs)) {
    throw new Error(
      `window state of partition ${id.partition} ending at ${id.endMs} written before its end was opened`,
    );
  }
}

/** Fresh, zeroed stats. */
export const emptyStats = (): StoreStats => ({
  calls: 0,
  readCapacityUnits: 0,
  writeCapacityUnits: 0,
  conditionalFailures: 0,
});
