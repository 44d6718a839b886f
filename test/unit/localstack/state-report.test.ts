import { describe, expect, it } from "vitest";
import { readStateReport } from "../../../localstack/tools/state-report.ts";
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
