import type { TopicMessages } from "kafkajs";
import { describe, expect, it } from "vitest";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";
import { processWindowBatch } from "../../../shared/usecases/window-batch.ts";
import { repartitionRecord } from "../../fixtures/repartition-records.ts";

const pipeline = definePipeline({ ...userSpending.definition, stateBuckets: 2 });
const MINUTE_MS = 60_000;

const record = (offset: number, user: string, eventTimeMs: number) =>
  repartitionRecord(pipeline, {
    groupKey: user,
    eventTimeMs,
    row: { amount: 1.5 },
    source: "transactions/0",
    sourceOffset: offset,
  });

/** Fails the first progress write (`recordSources`, the default), after every shard of the batch was written. */
class CrashBeforeProgress extends MemoryWindowStore {
  crashes = 1;
  override async recordSources(...args: Parameters<MemoryWindowStore["recordSources"]>) {
    if (this.crashes-- > 0) throw new Error("invocation timed out");
    return super.recordSources(...args);
  }
}

describe("a window batch retried after a crash between its state writes and its progress", () => {
  it("still lists the window for closing, and emits it once the watermark passes", async () => {
    // Prepare
    const store = new CrashBeforeProgress();
    const sent: TopicMessages[] = [];
    const deps = {
      pipeline,
      store,
      send: async (t: TopicMessages[]) => void sent.push(...t),
      nowMs: () => 0,
    };
    const first = [
      record(0, "alice", 0),
      record(1, "bob", MINUTE_MS),
      record(2, "carol", 2 * MINUTE_MS),
    ];

    // Act: the first attempt writes every shard, then fails; the retry finds nothing new.
    await expect(processWindowBatch(first, deps)).rejects.toThrow("timed out");
    const retry = await processWindowBatch(first, deps);
    await processWindowBatch([record(3, "alice", 20 * MINUTE_MS)], deps);

    // Assess
    expect(retry.duplicates).toBe(3);
    const results = sent
      .filter((t) => t.topic === pipeline.topics.output)
      .flatMap((t) => t.messages.map((m) => String(m.key)));
    expect(results.sort()).toEqual(["alice", "bob", "carol"]);
  });
});
