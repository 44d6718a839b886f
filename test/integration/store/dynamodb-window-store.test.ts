import { beforeAll, describe, expect, it } from "vitest";
import { DynamoDbWindowStore } from "../../../shared/store/dynamodb-window-store.ts";
import { ShardTooLargeError } from "../../../shared/store/errors.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import {
  childrenOf,
  type OpenedEnds,
  type StoredShard,
  shardKey,
} from "../../../shared/store/window-store.ts";
import { testDocumentClient, testDynamoDb, uniqueName } from "../helpers.ts";

const shard = (
  bucket: number,
  startMs: number,
  overrides: Partial<StoredShard> = {},
): StoredShard => ({
  partition: 0,
  bucket,
  startMs,
  endMs: startMs + 300_000,
  entries: new Map([["u1", [1]]]),
  applied: { "transactions/0": 10 },
  version: 1,
  ...overrides,
});

/** An open-ends token for any end: the store tests exercise guards, not the protocol's order. */
const anyEnd: OpenedEnds = {
  partition: 0,
  endsMs: { has: () => true } as unknown as ReadonlySet<number>,
};

describe("DynamoDbWindowStore on DynamoDB Local", () => {
  const tableName = uniqueName("state");
  let store: DynamoDbWindowStore;
  const pipeline = "p";

  beforeAll(async () => {
    await ensureStateTable(testDynamoDb(), tableName);
    store = new DynamoDbWindowStore(testDocumentClient(), tableName);
  });

  it("creates a shard once, then only over the version it read (optimistic locking)", async () => {
    // Prepare
    const created = shard(0, 0);

    // Act
    const first = await store.putShard(pipeline, anyEnd, created, undefined);
    const createdAgain = await store.putShard(pipeline, anyEnd, created, undefined);
    const updated = await store.putShard(
      pipeline,
      anyEnd,
      { ...created, version: 2, entries: new Map([["u1", [3]]]) },
      1,
    );
    const staleUpdate = await store.putShard(
      pipeline,
      anyEnd,
      { ...created, version: 2, entries: new Map([["u1", [99]]]) },
      1,
    );

    // Assess
    expect([first, createdAgain, updated, staleUpdate]).toEqual([true, false, true, false]);
    const stored = await store.getShards(pipeline, [created]);
    expect(stored.get(shardKey(created))).toMatchObject({
      version: 2,
      entries: new Map([["u1", [3]]]),
    });
  });

  it("keeps any group key, even one that names an object's prototype", async () => {
    // Prepare: keys come from user data.
    const odd = ["__proto__", "constructor", "", "ünï 🚀", "a.b", "123"];
    const written = shard(1, 0, { entries: new Map(odd.map((k, i) => [k, [i]])) });

    // Act
    await store.putShard(pipeline, anyEnd, written, undefined);
    const stored = await store.getShards(pipeline, [written]);

    // Assess
    expect(stored.get(shardKey(written))?.entries).toEqual(written.entries);
  });

  it("reads more shards than one BatchGetItem takes", async () => {
    // Prepare: 150 shards, more than the 100 keys a BatchGetItem allows.
    const shards = Array.from({ length: 150 }, (_, i) => shard(i, 3_000_000));
    await Promise.all(shards.map((w) => store.putShard(pipeline, anyEnd, w, undefined)));

    // Act
    const stored = await store.getShards(pipeline, [...shards, shard(999, 3_000_000)]);

    // Assess
    expect(stored.size).toBe(150);
  });

  it("closes a shard only over the version it read, and an absent one as an empty tombstone", async () => {
    // Prepare
    const open = shard(0, 600_000, { partition: 3 });
    await store.putShard(pipeline, { ...anyEnd, partition: 3 }, open, undefined);
    const absent = shard(1, 600_000, { partition: 3 });

    // Act
    const stale = await store.closeShard(pipeline, open, 7, 1_000, 2_000_000);
    const first = await store.closeShard(pipeline, open, 1, 1_000, 2_000_000);
    const again = await store.closeShard(pipeline, open, 2, 1_001, 2_000_000);
    const tombstone = await store.closeShard(pipeline, absent, undefined, 1_000, 2_000_000);
    const stored = await store.getShards(pipeline, [open, absent]);

    // Assess
    expect([stale, first, again, tombstone]).toEqual([false, true, false, true]);
    expect(stored.get(shardKey(open))).toMatchObject({ version: 2, closedAtMs: 1_000 });
    expect(stored.get(shardKey(absent))).toMatchObject({ version: 1, closedAtMs: 1_000 });
    expect(stored.get(shardKey(absent))?.entries.size).toBe(0);
    // A writer holding the open state, or one that read nothing, can no longer change them.
    expect(
      await store.putShard(pipeline, { ...anyEnd, partition: 3 }, { ...open, version: 2 }, 1),
    ).toBe(false);
    expect(await store.putShard(pipeline, { ...anyEnd, partition: 3 }, absent, undefined)).toBe(
      false,
    );
  });

  it("says a shard near 400 KB (the applied map counted) does not fit, and refuses to write it", async () => {
    // Prepare: entries just under the old 380 KB entries-only guard, plus a large applied map.
    const entries = new Map(Array.from({ length: 21_000 }, (_, i) => [`user-${i}`, [i + 0.25]]));
    const applied = Object.fromEntries(
      Array.from({ length: 2_000 }, (_, i) => [`a-long-source-topic-name/${i}`, 1e12 + i]),
    );
    const big = shard(5, 0, { entries, applied });

    // Act
    const put = store.putShard(pipeline, anyEnd, big, undefined);

    // Assess
    expect(await store.fits(pipeline, big)).toBe(false);
    expect(await store.fits(pipeline, shard(5, 0))).toBe(true);
    await expect(put).rejects.toThrow(ShardTooLargeError);
  });

  it("splits a shard atomically into two children, once, and only over the version read", async () => {
    // Prepare
    const leaf = shard(6, 0, { partition: 0 });
    await store.putShard(pipeline, anyEnd, leaf, undefined);
    const [zero, one] = childrenOf(leaf);
    const children = [
      { ...zero, entries: new Map([["u1", [1]]]), applied: leaf.applied, version: 1 },
      { ...one, entries: new Map(), applied: leaf.applied, version: 1 },
    ] as const;

    // Act
    const stale = await store.splitShard(pipeline, anyEnd, { ...leaf, version: 9 }, children);
    const split = await store.splitShard(pipeline, anyEnd, leaf, children);
    const again = await store.splitShard(pipeline, anyEnd, { ...leaf, version: 2 }, children);
    const stored = await store.getShards(pipeline, [leaf, zero, one]);

    // Assess
    expect([stale, split, again]).toEqual([false, true, false]);
    expect(stored.get(shardKey(leaf))).toMatchObject({ split: true, version: 2 });
    expect(stored.get(shardKey(leaf))?.entries.size).toBe(0);
    expect(stored.get(shardKey(zero))?.entries).toEqual(new Map([["u1", [1]]]));
    expect(stored.get(shardKey(one))).toMatchObject({ version: 1, applied: leaf.applied });
    // A split node is neither written nor closed again.
    expect(await store.putShard(pipeline, anyEnd, { ...leaf, version: 3 }, 2)).toBe(false);
    expect(await store.closeShard(pipeline, leaf, 2, 1, 2)).toBe(false);
  });

  it("records a layout once and refuses another", async () => {
    // Act
    const first = await store.recordLayout("layout", { partitions: 4, stateBuckets: 8 });
    const same = await store.recordLayout("layout", { partitions: 4, stateBuckets: 8 });
    const other = await store.recordLayout("layout", { partitions: 8, stateBuckets: 8 });

    // Assess
    expect([first, same, other]).toEqual([true, true, false]);
    expect((await store.readProgress("layout")).layout).toEqual({ partitions: 4, stateBuckets: 8 });
  });

  it("keeps progress monotonic and reads every partition with the watermark in one query", async () => {
    // Act
    await store.openWindows("q", 0, [300_000, 600_000], 1);
    await store.recordProgress("q", 0, 5_000);
    await store.openWindows("q", 0, [900_000], 2);
    await store.recordProgress("q", 0, 4_000); // an older maximum from a retry
    await store.openWindows("q", 1, [], 3);
    await store.recordProgress("q", 1, 7_000);
    await store.closeEnds("q", 0, [300_000]);
    await store.advanceWatermark("q", 100);
    await store.advanceWatermark("q", 50);
    const before = store.stats.calls;
    const progress = await store.readProgress("q", 3);

    // Assess: one Query (watermark, layout) and one BatchGet (the partitions' own items).
    expect(store.stats.calls - before).toBe(2);
    expect(progress.watermarkMs).toBe(100);
    expect(progress.partitions).toEqual([
      { partition: 0, maxEventTimeMs: 5_000, updatedAtMs: 2, openEndsMs: [600_000, 900_000] },
      { partition: 1, maxEventTimeMs: 7_000, updatedAtMs: 3, openEndsMs: [] },
    ]);
    expect(store.stats.writeCapacityUnits).toBeGreaterThan(0);
    expect(store.stats.readCapacityUnits).toBeGreaterThan(0);
  });

  it("keeps each partition's source progress and watermark monotonic, in its own item", async () => {
    // Prepare
    const t0 = { source: "t/0", maxEventTimeMs: 5_000, seenAtMs: 1, behind: false };
    const t1 = { source: "t/1", maxEventTimeMs: 3_000, seenAtMs: 1, behind: true };

    // Act
    const first = await store.recordSources("src", 2, [t0, t1], 100, 1);
    const older = await store.recordSources("src", 2, [{ ...t0, maxEventTimeMs: 4_000 }], 100, 2);
    const lowerWatermark = await store.recordSources("src", 2, [], 50, 3);
    const newer = await store.recordSources(
      "src",
      2,
      [{ ...t1, maxEventTimeMs: 9_000, seenAtMs: 4 }],
      200,
      4,
    );
    const progress = await store.readPartition("src", 2);

    // Assess
    expect([first, older, lowerWatermark, newer]).toEqual([true, false, false, true]);
    expect(progress).toMatchObject({
      partition: 2,
      watermarkMs: 200,
      sinceMs: 1,
      sources: [t0, { ...t1, maxEventTimeMs: 9_000, seenAtMs: 4 }],
    });
    expect(await store.readPartition("src", 3)).toBeUndefined();
  });
});
