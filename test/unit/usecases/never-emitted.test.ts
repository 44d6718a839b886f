import type { TopicMessages } from "kafkajs";
import { describe, expect, it } from "vitest";
import type { WindowSpec } from "../../../shared/pipeline/definition.ts";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";
import { FLUSH_QUIET_MS, flushDueWindows } from "../../../shared/usecases/flush.ts";
import { processWindowBatch } from "../../../shared/usecases/window-batch.ts";
import { repartitionRecord } from "../../fixtures/repartition-records.ts";

const MINUTE_MS = 60_000;

/** Fails the first progress write: the invocation dies after its state writes (a timeout). */
class DiesBeforeProgress extends MemoryWindowStore {
  crashes = 1;
  override async recordProgress(...args: Parameters<MemoryWindowStore["recordProgress"]>) {
    if (this.crashes-- > 0) throw new Error("invocation timed out");
    return super.recordProgress(...args);
  }
}

// Issue 13 §1: partition 0 writes a window's state and dies before recording its progress;
// partition 1 moves the watermark past the window's end; Lambda retries partition 0's batch, whose
// planner now finds the event late and already applied (a duplicate). The window must still be
// emitted by someone — before the fix nothing listed its end, so nothing ever closed it.
describe.each<[string, WindowSpec]>([
  ["tumbling", { type: "tumbling", size: "5 minutes" }],
  ["sliding", { type: "sliding", size: "10 minutes", slide: "5 minutes" }],
])("a %s window counted by an attempt that died before its progress", (_, window) => {
  it("is emitted after the watermark passed it while the batch was being retried", async () => {
    // Prepare
    // The shared watermark: partition 1 moves it past partition 0's window.
    const pipeline = definePipeline({
      ...userSpending.definition,
      window,
      stateBuckets: 2,
      watermarkFrom: "max",
    });
    const store = new DiesBeforeProgress();
    let nowMs = 1_000_000;
    const sent: TopicMessages[] = [];
    const deps = {
      pipeline,
      store,
      send: async (t: TopicMessages[]) => void sent.push(...t),
      nowMs: () => nowMs,
    };
    const alice = repartitionRecord(
      pipeline,
      {
        groupKey: "alice",
        eventTimeMs: 7 * MINUTE_MS,
        row: { amount: 2 },
        source: "t/0",
        sourceOffset: 0,
      },
      0,
    );
    const late = repartitionRecord(
      pipeline,
      {
        groupKey: "bob",
        eventTimeMs: 60 * MINUTE_MS,
        row: { amount: 1 },
        source: "t/1",
        sourceOffset: 0,
      },
      1,
    );

    // Act: partition 0 dies after its state write; partition 1 moves the watermark to 50 min;
    // partition 0's batch is retried; then the flush runs once everything is quiet.
    await expect(processWindowBatch([alice], deps)).rejects.toThrow("timed out");
    await processWindowBatch([late], deps);
    const retry = await processWindowBatch([alice], deps);
    nowMs += 2 * FLUSH_QUIET_MS;
    await flushDueWindows(deps);

    // Assess: every window alice's event was counted in went out.
    expect(retry.duplicates).toBe(1);
    const aliceResults = sent
      .filter((t) => t.topic === pipeline.topics.output)
      .flatMap((t) => t.messages)
      .filter((m) => String(m.key) === "alice")
      .map((m) => JSON.parse(String(m.value)).window.end as string);
    const expectedEnds = window.type === "tumbling" ? ["00:10"] : ["00:10", "00:15"];
    expect([...new Set(aliceResults)].sort()).toEqual(
      expectedEnds.map((hhmm) => `1970-01-01T${hhmm}:00.000Z`),
    );
  });
});
