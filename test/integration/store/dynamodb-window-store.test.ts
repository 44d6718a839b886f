import { beforeAll, describe, expect, it } from "vitest";
import { DynamoDbWindowStore } from "../../../shared/store/dynamodb-window-store.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { type StoredWindow, windowKey } from "../../../shared/store/window-store.ts";
import { testDocumentClient, testDynamoDb, uniqueName } from "../helpers.ts";

const window = (
  groupKey: string,
  startMs: number,
  overrides: Partial<StoredWindow> = {},
): StoredWindow => ({
  groupKey,
  startMs,
  endMs: startMs + 300_000,
  partition: 0,
  state: { sum: 1 },
  applied: { "transactions/0": 10 },
  version: 1,
  open: true,
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

  it("creates a window once, then only over the version it read (optimistic locking)", async () => {
    // Prepare
    const created = window("u1", 0);

    // Act
    const first = await store.putWindow(pipeline, created, undefined);
    const createdAgain = await store.putWindow(pipeline, created, undefined);
    const updated = await store.putWindow(
      pipeline,
      { ...created, version: 2, state: { sum: 3 } },
      1,
    );
    const staleUpdate = await store.putWindow(
      pipeline,
      { ...created, version: 2, state: { sum: 99 } },
      1,
    );

    // Assess
    expect([first, createdAgain, updated, staleUpdate]).toEqual([true, false, true, false]);
    const stored = await store.getWindows(pipeline, [created]);
    expect(stored.get(windowKey(created))).toMatchObject({ version: 2, state: { sum: 3 } });
  });

  it("reads more windows than one BatchGetItem takes", async () => {
    // Prepare: 150 windows, more than the 100 keys a BatchGetItem allows.
    const windows = Array.from({ length: 150 }, (_, i) => window(`batch-${i}`, 0));
    await Promise.all(windows.map((w) => store.putWindow(pipeline, w, undefined)));

    // Act
    const stored = await store.getWindows(pipeline, [...windows, window("absent", 0)]);

    // Assess
    expect(stored.size).toBe(150);
  });

  it("finds open windows by partition and end through the due index, and forgets emitted ones", async () => {
    // Prepare
    const due = [window("a", 600_000, { partition: 3 }), window("b", 600_000, { partition: 3 })];
    const otherPartition = window("c", 600_000, { partition: 4 });
    const closed = window("d", 600_000, { partition: 3, open: false });
    for (const w of [...due, otherPartition, closed]) await store.putWindow(pipeline, w, undefined);

    // Act
    const found = await store.openWindowsEndingAt(pipeline, 3, 900_000);
    const firstMark = await store.markEmitted(pipeline, due[0] as StoredWindow, 1_000, 2_000_000);
    const secondMark = await store.markEmitted(pipeline, due[0] as StoredWindow, 1_001, 2_000_000);
    const afterEmit = await store.openWindowsEndingAt(pipeline, 3, 900_000);

    // Assess
    expect(found.map((id) => id.groupKey).sort()).toEqual(["a", "b"]);
    expect(found[0]).toMatchObject({ startMs: 600_000, endMs: 900_000 });
    expect([firstMark, secondMark]).toEqual([true, false]);
    // The emitted window's version moved: a writer holding the old state can no longer overwrite it.
    expect(await store.putWindow(pipeline, { ...(due[0] as StoredWindow), version: 2 }, 1)).toBe(
      false,
    );
    expect(afterEmit.map((id) => id.groupKey)).toEqual(["b"]);
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
