import { describe, expect, it } from "vitest";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { StateLayoutChangedError } from "../../../shared/store/errors.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";
import { flushDueWindows } from "../../../shared/usecases/flush.ts";
import { processWindowBatch } from "../../../shared/usecases/window-batch.ts";
import { readWindowLeaves } from "../../../shared/usecases/window-protocol.ts";
import { repartitionRecord } from "../../fixtures/repartition-records.ts";

// Issue 13 §5: a key's state lives in the item its repartition partition and bucket name; a
// pipeline restarted with other `partitions` or `stateBuckets` would count it in a second place.
describe.each([
  ["partitions", { partitions: 8 }, "max"],
  ["stateBuckets", { stateBuckets: 16 }, "max"],
  ["partitions", { partitions: 8 }, "sources"],
  ["stateBuckets", { stateBuckets: 16 }, "sources"],
] as const)(
  "a pipeline whose %s changed while it has state (watermark from %s)",
  (setting, change, watermarkFrom) => {
    it("refuses to run, saying what to do, and changes nothing", async () => {
      // Prepare: state written with the default layout.
      const before = definePipeline({ ...userSpending.definition, watermarkFrom });
      const after = definePipeline({ ...userSpending.definition, watermarkFrom, ...change });
      const store = new MemoryWindowStore();
      const deps = (pipeline: typeof before) => ({
        pipeline,
        store,
        send: async () => {},
        nowMs: () => 0,
      });
      const event = (offset: number) =>
        repartitionRecord(before, {
          groupKey: "alice",
          eventTimeMs: 0,
          row: { amount: 1 },
          source: "transactions/0",
          sourceOffset: offset,
        });
      await processWindowBatch([event(0)], deps(before));
      const stateBefore = store.allShards(before.name);

      // Act
      const batch = processWindowBatch([event(1)], deps(after));
      const flush = flushDueWindows(deps(after));

      // Assess
      await expect(batch).rejects.toThrow(StateLayoutChangedError);
      await expect(batch).rejects.toThrow(
        new RegExp(`${setting}: \\d+.*Restore the old values, or drain`),
      );
      await expect(flush).rejects.toThrow(StateLayoutChangedError);
      expect(store.allShards(before.name)).toEqual(stateBefore);
      // The old layout still runs.
      await expect(processWindowBatch([event(1)], deps(before))).resolves.toMatchObject({
        counted: 1,
      });
    });
  },
);

describe("readWindowLeaves (for the state tool)", () => {
  it("returns a window's whole state, split shards walked down", async () => {
    // Prepare: one bucket and a tiny item limit, so the window's shard splits.
    const pipeline = definePipeline({ ...userSpending.definition, stateBuckets: 1 });
    const store = new MemoryWindowStore(60);
    const users = ["alice", "bob", "carol", "dave", "erin", "frank"];
    const records = users.map((user, offset) =>
      repartitionRecord(pipeline, {
        groupKey: user,
        eventTimeMs: 0,
        row: { amount: offset + 1 },
        source: "transactions/0",
        sourceOffset: offset,
      }),
    );
    await processWindowBatch(records, { pipeline, store, send: async () => {}, nowMs: () => 0 });

    // Act
    const leaves = await readWindowLeaves(store, pipeline, 0, [300_000]);

    // Assess
    expect(leaves.length).toBeGreaterThan(1);
    const entries = new Map(leaves.flatMap((l) => [...l.entries]));
    expect([...entries.keys()].sort()).toEqual(users);
    expect(entries.get("carol")).toEqual([3]);
  });
});
