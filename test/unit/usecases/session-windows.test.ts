import type { TopicMessages } from "kafkajs";
import { describe, expect, it } from "vitest";
import { definePipeline, type Pipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";
import { HEADERS } from "../../../shared/usecases/headers.ts";
import { processWindowBatch, type WindowStep } from "../../../shared/usecases/window-batch.ts";
import { repartitionRecord } from "../../fixtures/repartition-records.ts";

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const at = (minutes: number) => T0 + minutes * MIN;

const sessions = (overrides: Partial<Parameters<typeof definePipeline>[0]> = {}) =>
  definePipeline({
    ...userSpending.definition,
    name: "sessions",
    window: { type: "session", gap: "5 minutes" },
    aggregations: [
      { fn: "sum", column: "amount", as: "total" },
      { fn: "count", as: "n" },
    ],
    watermarkFrom: "max",
    stateBuckets: 2,
    output: { topic: "sessions-out" },
    ...overrides,
  });

type Trace = ReadonlyArray<ReadonlyArray<readonly [user: string, minutes: number, amount: number]>>;

// Spark 3.5.7's micro-batches and output for this trace (test/spark/session_semantics.py, one file
// per batch, withWatermark 10 minutes, session_window 5 minutes, sum + count, append mode): the
// rows it emitted over the whole run; the watermark after each batch in the comments.
const SPARK_TRACE: Trace = [
  [
    ["u1", 0, 1],
    ["u1", 3, 2],
    ["u2", 0, 1],
  ], // wm 11:53
  [
    ["u1", 10, 4],
    ["u2", 5, 10],
  ], // wm 12:00; u2 exactly a gap after 12:00: same session
  [["u1", 6.5, 8]], // bridges u1's [12:00,12:08) and [12:10,12:15)
  [["u3", 24, 1]], // wm 12:14
  [
    ["u1", 9, 16],
    ["u2", 8, 100],
  ], // both late: t + gap <= 12:14
  [["u1", 9.5, 32]], // not late (12:14:30 > 12:14) though behind the watermark: joins u1
  [["u3", 31, 1]], // wm 12:21
  [["u1", 16.5, 64]], // after u1's session ended (12:15): a new one
  [["u3", 50, 1]], // wm 12:40
  [["u3", 110, 1]], // wm 13:40
];
const SPARK_OUTPUT = [
  '{"session_window":{"start":"2025-01-01T12:00:00.000Z","end":"2025-01-01T12:10:00.000Z"},"user":"u2","total":11.0,"n":2}',
  '{"session_window":{"start":"2025-01-01T12:00:00.000Z","end":"2025-01-01T12:15:00.000Z"},"user":"u1","total":47.0,"n":5}',
  '{"session_window":{"start":"2025-01-01T12:24:00.000Z","end":"2025-01-01T12:29:00.000Z"},"user":"u3","total":1.0,"n":1}',
  '{"session_window":{"start":"2025-01-01T12:31:00.000Z","end":"2025-01-01T12:36:00.000Z"},"user":"u3","total":1.0,"n":1}',
  '{"session_window":{"start":"2025-01-01T12:16:30.000Z","end":"2025-01-01T12:21:30.000Z"},"user":"u1","total":64.0,"n":1}',
  '{"session_window":{"start":"2025-01-01T12:50:00.000Z","end":"2025-01-01T12:55:00.000Z"},"user":"u3","total":1.0,"n":1}',
];

function harness(pipeline: Pipeline, store = new MemoryWindowStore()) {
  const sent: TopicMessages[] = [];
  let offset = 0;
  const deps = {
    pipeline,
    store,
    send: async (t: TopicMessages[]) => void sent.push(...t),
    nowMs: () => 0,
  };
  const recordsOf = (batch: Trace[number]) =>
    batch.map(([user, minutes, amount]) =>
      repartitionRecord(pipeline, {
        groupKey: user,
        eventTimeMs: at(minutes),
        row: { amount, event_time: at(minutes) },
        source: "transactions/0",
        sourceOffset: offset++,
      }),
    );
  const messages = (topic: string) =>
    sent.filter((t) => t.topic === topic).flatMap((t) => t.messages);
  return {
    deps,
    recordsOf,
    output: () => messages(pipeline.topics.output).map((m) => String(m.value)),
    outputById: () =>
      messages(pipeline.topics.output).map(
        (m) => [String(m.headers?.[HEADERS.resultId]), String(m.value)] as const,
      ),
    late: () => messages(pipeline.topics.late).map((m) => JSON.parse(String(m.value))),
  };
}

describe("session windows, batch by batch as Spark's micro-batches", () => {
  it("emit exactly Spark's sessions and send its dropped rows to the late topic", async () => {
    // Prepare
    const pipeline = sessions();
    const h = harness(pipeline);

    // Act
    for (const batch of SPARK_TRACE) await processWindowBatch(h.recordsOf(batch), h.deps);

    // Assess
    expect(h.output().sort()).toEqual([...SPARK_OUTPUT].sort());
    expect(h.late().map((e) => [e.user, e.amount])).toEqual([
      ["u1", 16],
      ["u2", 100],
    ]);
  });

  it("a session comes out once the bin after its last one closes (2 gaps past its end at most)", async () => {
    const h = harness(sessions());
    await processWindowBatch(
      h.recordsOf([
        ["u1", 0, 1],
        ["u1", 4, 1],
      ]),
      h.deps,
    );
    // the session ends 12:09 (last bin [12:00,12:05)); bin [12:05,12:10) closes at wm 12:15
    await processWindowBatch(h.recordsOf([["u9", 24.9, 1]]), h.deps); // wm 12:14:54
    expect(h.output()).toEqual([]);
    await processWindowBatch(h.recordsOf([["u9", 25, 1]]), h.deps); // wm 12:15
    expect(h.output()).toEqual([
      '{"session_window":{"start":"2025-01-01T12:00:00.000Z","end":"2025-01-01T12:09:00.000Z"},"user":"u1","total":2.0,"n":2}',
    ]);
  });

  it("differs from Spark where Spark's result depends on batch boundaries: an on-time event after its session's end passed the watermark joins it", async () => {
    // Spark: [12:10,12:15) emitted at wm 12:16, then 12:12 (12:17 > 12:16, on time) starts a
    // second, overlapping session [12:12,12:17). Here the bin is still open: one session.
    const h = harness(sessions());
    for (const batch of [
      [
        ["u4", 10, 1],
        ["u3", 26, 1],
      ],
      [["u4", 12, 2]],
      [["u3", 86, 1]],
    ] as Trace)
      await processWindowBatch(h.recordsOf(batch), h.deps);
    expect(h.output().filter((v) => v.includes('"u4"'))).toEqual([
      '{"session_window":{"start":"2025-01-01T12:10:00.000Z","end":"2025-01-01T12:17:00.000Z"},"user":"u4","total":3.0,"n":2}',
    ]);
  });

  it("a long session across many bins, split into shards that outgrow an item", async () => {
    const store = new MemoryWindowStore(1_500);
    const h = harness(sessions({ stateBuckets: 1 }), store);
    const users = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    for (let minute = 0; minute < 40; minute += 2)
      await processWindowBatch(h.recordsOf(users.map((u) => [u, minute, 1] as const)), h.deps);
    await processWindowBatch(h.recordsOf([["z", 200, 1]]), h.deps);
    const out = h.output();
    expect(out).toHaveLength(60);
    expect(out[0]).toMatch(
      /^\{"session_window":\{"start":"2025-01-01T12:00:00.000Z","end":"2025-01-01T12:43:00.000Z"\},"user":"user-\d+","total":20.0,"n":20\}$/,
    );
  });
});

describe("session windows are exactly-once under crashes and redelivery", () => {
  const steps: WindowStep[] = ["before-state", "between-state-writes", "after-state", "after-emit"];
  it.each(SPARK_TRACE.flatMap((_, batch) => steps.map((step) => [batch, step] as const)))(
    "a crash in batch %i at %s, then the batch redelivered twice",
    async (crashBatch, crashStep) => {
      // Prepare
      const pipeline = sessions();
      const h = harness(pipeline);
      let armed = false;
      const deps = {
        ...h.deps,
        checkpoint: (step: WindowStep) => {
          if (armed && step === crashStep) {
            armed = false;
            throw new Error(`crash at ${step}`);
          }
        },
      };

      // Act
      for (const [i, batch] of SPARK_TRACE.entries()) {
        const records = h.recordsOf(batch);
        armed = i === crashBatch;
        await processWindowBatch(records, deps).catch(() => undefined);
        await processWindowBatch(records, deps);
        await processWindowBatch(records, deps);
      }

      // Assess: Spark's sessions, each id always with the same bytes.
      const byId = new Map<string, Set<string>>();
      for (const [id, value] of h.outputById())
        byId.set(id, (byId.get(id) ?? new Set()).add(value));
      expect([...byId.values()].every((values) => values.size === 1)).toBe(true);
      expect([...byId.values()].flatMap((v) => [...v]).sort()).toEqual([...SPARK_OUTPUT].sort());
    },
  );
});

describe("session pipeline definitions", () => {
  it.each([
    [{ window: { type: "session", gap: "0 minutes" } }, "window.gap"],
    [{ window: { type: "session" } }, "window.gap"],
    [{ emit: "update" }, "Update output mode not supported for session window"],
    [{ aggregations: [{ fn: "count", as: "session_window" }] }, "aggregations[0].as"],
  ])("refuses %j", (overrides, message) => {
    expect(() => sessions(overrides as never)).toThrow(message);
  });

  it("carries the event time to the window step and keeps state in bins of a gap", () => {
    const p = sessions();
    expect(p.carriedColumns).toEqual(["amount", "event_time"]);
    expect([p.sessionGapMs, p.windowSizeMs, p.windowSlideMs]).toEqual([5 * MIN, 10 * MIN, 5 * MIN]);
  });
});
