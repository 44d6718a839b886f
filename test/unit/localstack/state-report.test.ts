import { describe, expect, it } from "vitest";
import { keyInState, readStateReport } from "../../../localstack/tools/state-report.ts";
import { bucketOf } from "../../../shared/engine/buckets.ts";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import {
  childrenOf,
  type PipelineProgress,
  type ShardId,
  type StoredShard,
  shardKey,
  splitBitOf,
} from "../../../shared/store/window-store.ts";

// The state reader on a hand-made store: a bucket whose shard was split in two (its keys live
// in the children), read by key and in full.
const pipeline = definePipeline({ ...userSpending.definition, stateBuckets: 2, partitions: 1 });
const at = (hhmm: string) => Date.parse(`2025-01-01T${hhmm}:00Z`);
const window = { partition: 0, startMs: at("12:00"), endMs: at("12:05") };
const keys = ["alice", "bob", "carol", "dave", "erin", "frank"];
const bucket = bucketOf("alice", 2);
const inBucket = keys.filter((k) => bucketOf(k, 2) === bucket);
const root: ShardId = { ...window, bucket };
const [zero, one] = childrenOf(root);

function leaf(id: ShardId, members: readonly string[]): StoredShard {
  return { ...id, entries: new Map(members.map((k, i) => [k, [i + 1]])), applied: {}, version: 1 };
}

const shards = new Map<string, StoredShard>([
  [shardKey(root), { ...leaf(root, []), split: true }],
  [
    shardKey(zero),
    leaf(
      zero,
      inBucket.filter((k) => splitBitOf(k, 0) === "0"),
    ),
  ],
  [
    shardKey(one),
    leaf(
      one,
      inBucket.filter((k) => splitBitOf(k, 0) === "1"),
    ),
  ],
]);
const progress: PipelineProgress = {
  watermarkMs: at("11:59"),
  partitions: [
    { partition: 0, maxEventTimeMs: at("12:09"), updatedAtMs: 0, openEndsMs: [window.endMs] },
  ],
  layout: { partitions: 1, stateBuckets: 2 },
};
const asked: ShardId[][] = [];
const store = {
  readProgress: async () => progress,
  getShards: async (_: string, ids: readonly ShardId[]) => {
    asked.push([...ids]);
    return new Map(
      ids.flatMap((id) =>
        shards.has(shardKey(id)) ? [[shardKey(id), shards.get(shardKey(id)) as StoredShard]] : [],
      ),
    );
  },
};

describe("readStateReport over split shards", () => {
  it("finds a key in the child its hash routes it to, reading only that branch", async () => {
    asked.length = 0;
    const report = await readStateReport(store, pipeline, { groupKey: "alice", top: 10 });
    expect(report.keys.map((k) => k.groupKey)).toEqual(["alice"]);
    expect(asked.flat().map((id) => id.path ?? "")).toEqual(["", splitBitOf("alice", 0)]);
  });

  it("lists every key of both children without a key", async () => {
    const report = await readStateReport(store, pipeline, { top: 10 });
    expect(report.keys.map((k) => k.groupKey).sort()).toEqual([...inBucket].sort());
    expect(report.distinctKeys).toBe(inBucket.length);
  });
});

// The tool shows and takes keys as the output record's key writes them (Spark's cast to string),
// while state holds String(value) of the parsed value.
describe("keyInState: the key a user types, as state holds it", () => {
  it.each([
    ["double", "1.0E7", "10000000"],
    ["double", "10000000", "10000000"],
    ["double", "0.0", "0"],
    ["double", "-0.0", "0"],
    ["double", "NaN", "NaN"],
    ["double", "-Infinity", "-Infinity"],
    ["double", "abc", "abc"],
    ["timestamp", "2025-01-01 12:00:00.5", String(Date.parse("2025-01-01T12:00:00.500Z"))],
    ["timestamp", "2025-01-01T12:00:00Z", String(Date.parse("2025-01-01T12:00:00Z"))],
    ["long", "5", "5"],
    ["string", "1.0E7", "1.0E7"],
  ] as const)("a %s key typed %s is held as %s", (type, typed, held) => {
    expect(keyInState(typed, type)).toBe(held);
  });

  it("finds a double key by its Spark text and shows it so", async () => {
    // Prepare: a pipeline grouped by a double, its key 1e7 held as "10000000".
    const byDouble = definePipeline({
      ...pipeline.definition,
      schema: { ...pipeline.definition.schema, user: "double" },
    });
    const held = "10000000";
    const id = { ...window, bucket: bucketOf(held, 2) };
    const doubleStore = {
      readProgress: async () => progress,
      getShards: async (_: string, ids: readonly ShardId[]) =>
        new Map(
          ids
            .filter((i) => shardKey(i) === shardKey(id))
            .map((i) => [shardKey(i), leaf(i, [held])]),
        ),
    };

    // Act
    const report = await readStateReport(doubleStore, byDouble, { groupKey: "1.0E7", top: 10 });

    // Assess
    expect(report.keys.map((k) => k.groupKey)).toEqual(["1.0E7"]);
  });
});

// A session bin holds a key's run (first and last event time, then the aggregates), not plain
// aggregates: the tool shows it as the session so far, [first event, last event + gap).
describe("readStateReport on a session pipeline", () => {
  it("shows a bin's run as the part of a session it holds, with its aggregates", async () => {
    // Prepare: alice's run in the bin of 12:00–12:05 (its shard spans two gaps, to 12:10).
    const sessions = definePipeline({
      ...pipeline.definition,
      window: { type: "session", gap: "5 minutes" },
    });
    const id = {
      partition: 0,
      bucket: bucketOf("alice", 2),
      startMs: at("12:00"),
      endMs: at("12:10"),
    };
    const run = [at("12:01"), at("12:03"), [7]];
    const sessionStore = {
      readProgress: async (): Promise<PipelineProgress> => ({
        ...progress,
        partitions: [
          { partition: 0, maxEventTimeMs: at("12:03"), updatedAtMs: 0, openEndsMs: [id.endMs] },
        ],
      }),
      getShards: async (_: string, ids: readonly ShardId[]) =>
        new Map(
          ids
            .filter((i) => shardKey(i) === shardKey(id))
            .map((i) => [
              shardKey(i),
              { ...i, entries: new Map([["alice", run]]), applied: {}, version: 1 },
            ]),
        ),
    };

    // Act
    const report = await readStateReport(sessionStore, sessions, { groupKey: "alice", top: 10 });

    // Assess
    expect(report.keys).toMatchObject([
      { groupKey: "alice", startMs: at("12:01"), endMs: at("12:08"), values: { total_spent: 7 } },
    ]);
  });
});
