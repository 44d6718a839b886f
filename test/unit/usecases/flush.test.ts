import type { TopicMessages } from "kafkajs";
import { describe, expect, it } from "vitest";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";
import { FLUSH_QUIET_MS, flushDueWindows } from "../../../shared/usecases/flush.ts";
import { processWindowBatch } from "../../../shared/usecases/window-batch.ts";
import { repartitionRecord } from "../../fixtures/repartition-records.ts";

const MINUTE_MS = 60_000;
// The shared watermark: partition 1's event closes partition 0's window.
const pipeline = definePipeline({ ...userSpending.definition, watermarkFrom: "max" });

const record = (partition: number, offset: number, user: string, eventTimeMs: number) =>
  repartitionRecord(
    pipeline,
    { groupKey: user, eventTimeMs, row: { amount: 2 }, source: "t/0", sourceOffset: offset },
    partition,
  );

describe("the flush function", () => {
  it("closes due windows of a quiet partition, and leaves an active one to its own invocations", async () => {
    // Prepare: partition 0 opens a window; partition 1's later event moves the watermark past it.
    let nowMs = 1_000_000;
    const results: string[] = [];
    const deps = {
      pipeline,
      store: new MemoryWindowStore(),
      nowMs: () => nowMs,
      send: async (topics: TopicMessages[]) => {
        for (const t of topics)
          if (t.topic === pipeline.topics.output)
            results.push(...t.messages.map((m) => String(m.key)));
      },
    };
    await processWindowBatch([record(0, 0, "alice", 0)], deps);
    await processWindowBatch([record(1, 1, "bob", 30 * MINUTE_MS)], deps);

    // Act
    nowMs += FLUSH_QUIET_MS / 2;
    const early = await flushDueWindows(deps);
    nowMs += FLUSH_QUIET_MS;
    const quiet = await flushDueWindows(deps);

    // Assess
    expect(early.emitted).toBe(0);
    expect(quiet.emitted).toBe(1);
    expect(results).toEqual(["alice"]);
  });
});

describe("the flush function with the watermark from every source", () => {
  it("closes the last window after idleClose of wall clock with no events, as the shared watermark does", async () => {
    // Prepare: one event, then nothing; the source goes idle but its time alone closes nothing.
    const idle = definePipeline({
      ...userSpending.definition,
      watermarkFrom: "sources",
      idleClose: "1 minute",
    });
    let nowMs = 1_000_000;
    const results: string[] = [];
    const deps = {
      pipeline: idle,
      store: new MemoryWindowStore(),
      nowMs: () => nowMs,
      send: async (topics: TopicMessages[]) => {
        for (const t of topics)
          if (t.topic === idle.topics.output) results.push(...t.messages.map((m) => String(m.key)));
      },
    };
    const at = (offset: number, eventTimeMs: number) =>
      repartitionRecord(
        idle,
        { groupKey: "alice", eventTimeMs, row: { amount: 2 }, source: "t/0", sourceOffset: offset },
        0,
      );
    await processWindowBatch([at(0, 0)], deps);

    // Act: 30 s idle (less than idleClose), then 20 minutes
    nowMs += 30_000;
    const early = await flushDueWindows(deps);
    nowMs += 20 * MINUTE_MS;
    const idleLong = await flushDueWindows(deps);

    // Assess
    expect(early.emitted).toBe(0);
    expect(idleLong.emitted).toBe(1);
    expect(results).toEqual(["alice"]);
  });
});
