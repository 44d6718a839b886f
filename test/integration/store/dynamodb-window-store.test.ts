import { beforeAll, describe, expect, it } from "vitest";
import { DynamoDbWindowStore } from "../../../shared/store/dynamodb-window-store.ts";
import { ShardTooLargeError } from "../../../shared/store/errors.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { type StoredShard, shardKey } from "../../../shared/store/window-store.ts";
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
    const first = await store.putShard(pipeline, created, undefined);
    const createdAgain = await store.putShard(pipeline, created, undefined);
    const updated = await store.putShard(
      pipeline,
      { ...created, version: 2, entries: new Map([["u1", [3]]]) },
      1,
    );
    const staleUpdate = await store.putShard(
      pipeline,
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
    await store.putShard(pipeline, written, undefined);
    const stored = await store.getShards(pipeline, [written]);

    // Assess
    expect(stored.get(shardKey(written))?.entries).toEqual(written.entries);
  });

  it("reads more shards than one BatchGetItem takes", async () => {
    // Prepare: 150 shards, more than the 100 keys a BatchGetItem allows.
    const shards = Array.from({ length: 150 }, (_, i) => shard(i, 3_000_000));
    await Promise.all(shards.map((w) => store.putShard(pipeline, w, undefined)));

    // Act
    const stored = await store.getShards(pipeline, [...shards, shard(999, 3_000_000)]);

    // Assess
    expect(stored.size).toBe(150);
  });

  it("closes a shard only over the version it read, and an absent one as an empty tombstone", async () => {
    // Prepare
    const open = shard(0, 600_000, { partition: 3 });
    await store.putShard(pipeline, open, undefined);
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
    expect(await store.putShard(pipeline, { ...open, version: 2 }, 1)).toBe(false);
    expect(await store.putShard(pipeline, absent, undefined)).toBe(false);
  });

  it("refuses a shard larger than a DynamoDB item with the setting to change", async () => {
    // Prepare: ~30,000 keys in one bucket, over DynamoDB's 400 KB item limit.
    const entries = new Map(Array.from({ length: 30_000 }, (_, i) => [`user-${i}`, [i + 0.25]]));

    // Act
    const put = store.putShard(pipeline, shard(5, 0, { entries }), undefined);

    // Assess
    await expect(put).rejects.toThrow(ShardTooLargeError);
    await expect(put).rejects.toThrow(/raise the pipeline's stateBuckets/);
  });

  it("keeps progress monotonic and reads every partition with the watermark in one query", async () => {
    // Act
    await store.recordProgress("q", 0, 5_000, [300_000, 600_000], 1);
    await store.recordProgress("q", 0, 4_000, [900_000], 2); // an older maximum from a retry
    await store.recordProgress("q", 1, 7_000, [], 3);
    await store.closeEnds("q", 0, [300_000]);
    await store.advanceWatermark("q", 100);
    await store.advanceWatermark("q", 50);
    const before = store.stats.calls;
    const progress = await store.readProgress("q");

    // Assess
    expect(store.stats.calls - before).toBe(1);
    expect(progress.watermarkMs).toBe(100);
    expect(progress.partitions).toEqual([
      { partition: 0, maxEventTimeMs: 5_000, updatedAtMs: 2, openEndsMs: [600_000, 900_000] },
      { partition: 1, maxEventTimeMs: 7_000, updatedAtMs: 3, openEndsMs: [] },
    ]);
    expect(store.stats.writeCapacityUnits).toBeGreaterThan(0);
    expect(store.stats.readCapacityUnits).toBeGreaterThan(0);
  });
});
