import { describe, expect, it } from "vitest";
import type { RepartitionedEvent } from "../../../shared/codec/repartition.ts";
import { aggregatorFor } from "../../../shared/engine/aggregations.ts";
import { applyEvents, planBatch } from "../../../shared/engine/batch.ts";
import { bucketOf } from "../../../shared/engine/buckets.ts";

const sum = aggregatorFor([{ fn: "sum", column: "amount", as: "total" }]);
const event = (groupKey: string, offset: number, amount = 1, eventTimeMs = 1_000) =>
  ({
    groupKey,
    eventTimeMs,
    row: { amount },
    source: "t/0",
    sourceOffset: offset,
  }) satisfies RepartitionedEvent;

describe("bucketOf", () => {
  it.each([
    ["alice", 8],
    ["", 8],
    ["ünï 🚀", 16],
    ["user-123", 1],
  ])("puts %j in a stable bucket below %i", (key, buckets) => {
    const bucket = bucketOf(key, buckets);
    expect(bucket).toBeGreaterThanOrEqual(0);
    expect(bucket).toBeLessThan(buckets);
    expect(bucketOf(key, buckets)).toBe(bucket);
  });

  it("spreads keys evenly enough that no bucket holds twice its share", () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8_000; i++) counts[bucketOf(`user-${i}`, 8)]++;
    expect(Math.max(...counts)).toBeLessThan(2_000);
    expect(Math.min(...counts)).toBeGreaterThan(500);
  });
});

describe("applyEvents on a shard", () => {
  it("pre-aggregates per key and skips what the shard already applied, whatever the key", () => {
    // Prepare: the shard applied source offsets up to 5 (keys a and b).
    const stored = { entries: new Map([["a", [10]]]), applied: { "t/0": 5 } };
    const batch = [event("b", 4, 100), event("a", 5, 100), event("a", 6, 1), event("b", 7, 2)];

    // Act
    const next = applyEvents(stored, batch, sum);

    // Assess: offsets 4 and 5 were applied before (a re-delivered prefix), 6 and 7 are new.
    expect(next?.entries).toEqual(
      new Map([
        ["a", [11]],
        ["b", [2]],
      ]),
    );
    expect(next?.applied).toEqual({ "t/0": 7 });
    expect(next?.changedKeys).toEqual(["a", "b"]);
    expect(next?.newEvents.map((e) => e.sourceOffset)).toEqual([6, 7]);
  });

  it("returns nothing when every event was applied before", () => {
    expect(applyEvents({ entries: new Map(), applied: { "t/0": 9 } }, [event("a", 9)], sum)).toBe(
      undefined,
    );
  });
});

describe("planBatch", () => {
  it("keeps each shard's events in batch order, so the offset skip never drops a new event", () => {
    // Prepare: one bucket for every key, interleaved keys.
    const batch = [event("a", 1), event("b", 2), event("a", 3), event("c", 4)];

    // Act
    const plan = planBatch(batch, { partition: 2, buckets: 1 }, 300_000, 300_000, undefined);

    // Assess
    const shards = [...plan.shards.values()];
    expect(shards).toHaveLength(1);
    expect(shards[0]?.id).toEqual({ partition: 2, bucket: 0, startMs: 0, endMs: 300_000 });
    expect(shards[0]?.events.map((e) => e.sourceOffset)).toEqual([1, 2, 3, 4]);
  });
});
