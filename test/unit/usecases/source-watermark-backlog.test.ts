import type { Message, TopicMessages } from "kafkajs";
import { describe, expect, it } from "vitest";
import { bucketOf } from "../../../shared/engine/buckets.ts";
import type { KafkaRecord } from "../../../shared/msk/event.ts";
import { definePipeline, type Pipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";
import { flushDueWindows } from "../../../shared/usecases/flush.ts";
import { parseFilterStep } from "../../../shared/usecases/parse-filter.ts";
import { processWindowBatch } from "../../../shared/usecases/window-batch.ts";

const MINUTE_MS = 60_000;
const SOURCES = 3;
const PARTITIONS = 4;
const PER_SOURCE = 400;
const BATCH = 50;

/**
 * A backlog produced before the pipeline starts, then read in the least favourable order: each
 * source partition parsed to the end one after the other, then each repartition partition
 * windowed to the end one after the other — the skew a parallel replay can have. Returns what
 * went out, with an independent expectation (no event is late: every source is in time order).
 */
async function replay(pipeline: Pipeline, nowMs: () => number) {
  const store = new MemoryWindowStore();
  const sent: TopicMessages[] = [];
  const deps = {
    pipeline,
    store,
    nowMs,
    send: async (t: TopicMessages[]) => void sent.push(...t),
    expectedSources: SOURCES,
  };
  const expected = new Map<string, number>();
  // The trace: each source in time order over ~6 hours, five users.
  const sources = Array.from({ length: SOURCES }, (_, s) =>
    Array.from({ length: PER_SOURCE }, (_, i) => {
      const eventTimeMs = (i * 55 + s * 7) * 1_000 + 1_700_000_000_000;
      const user = `u${(i * 7 + s) % 5}`;
      const windowStartMs = eventTimeMs - (eventTimeMs % (5 * MINUTE_MS));
      const id = `${user}/${windowStartMs}`;
      expected.set(id, (expected.get(id) ?? 0) + i + 1);
      return { user, amount: i + 1, event_time: eventTimeMs / 1000, action: "buy" };
    }),
  );
  // Parse: source by source, batch by batch; repartition records routed by key (or marker).
  const parse = parseFilterStep(pipeline);
  const queues: KafkaRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  for (let s = 0; s < SOURCES; s++) {
    const values = sources[s] ?? [];
    for (let from = 0; from < values.length; from += BATCH) {
      const records = values.slice(from, from + BATCH).map(
        (v, i): KafkaRecord => ({
          topic: "transactions",
          partition: s,
          offset: from + i,
          timestampMs: 0,
          key: null,
          value: Buffer.from(JSON.stringify(v)),
          headers: [],
        }),
      );
      for (const m of parse(records).repartition) route(m);
    }
  }
  function route(m: Message) {
    const partition = m.partition ?? bucketOf(String(m.key), PARTITIONS);
    const queue = queues[partition] as KafkaRecord[];
    queue.push({
      topic: pipeline.topics.repartition,
      partition,
      offset: queue.length,
      timestampMs: 0,
      key: m.key === null ? null : Buffer.from(String(m.key)),
      value: Buffer.from(String(m.value)),
      headers: [],
    });
  }
  // Window: partition by partition, to the end.
  let late = 0;
  let counted = 0;
  for (const queue of queues) {
    for (let from = 0; from < queue.length; from += BATCH) {
      const counts = await processWindowBatch(queue.slice(from, from + BATCH), deps);
      late += counts.late;
      counted += counts.counted;
    }
  }
  return { store, sent, deps, expected, late, counted };
}

function totals(sent: readonly TopicMessages[], pipeline: Pipeline): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of sent.filter((t) => t.topic === pipeline.topics.output))
    for (const m of t.messages) {
      const v = JSON.parse(String(m.value));
      out.set(`${v.user}/${Date.parse(v.window.start)}`, v.total_spent);
    }
  return out;
}

// Issue 14: a backlog through the default partitions — today's shared max watermark lets the
// partition that runs first make the others' events late; the watermark from every source's
// progress makes nothing late, and every window whose end it passed equals the expectation.
describe("a replayed backlog over 3 source partitions and 4 repartition partitions", () => {
  it("with watermarkFrom 'max' (Spark's formula, shared), most of the later partitions' events are late", async () => {
    const pipeline = definePipeline({
      ...userSpending.definition,
      partitions: PARTITIONS,
      watermarkFrom: "max",
    });
    const { late } = await replay(pipeline, () => 0);
    expect(late).toBeGreaterThan((SOURCES * PER_SOURCE) / 2);
  });

  it("with watermarkFrom 'sources', nothing is late and every emitted window is right", async () => {
    // Prepare
    const pipeline = definePipeline({
      ...userSpending.definition,
      partitions: PARTITIONS,
      watermarkFrom: "sources",
      sourceIdle: "1 minute",
    });
    let nowMs = 1_000_000;

    // Act: the backlog, then the sources go quiet; after the idle time the flush closes the rest.
    const { sent, deps, expected, late, counted } = await replay(pipeline, () => nowMs);
    const beforeIdle = totals(sent, pipeline).size;
    nowMs += 2 * MINUTE_MS;
    await flushDueWindows(deps);

    // Assess
    expect(late).toBe(0);
    expect(counted).toBe(SOURCES * PER_SOURCE);
    const results = totals(sent, pipeline);
    expect(beforeIdle).toBeGreaterThan(0);
    for (const [id, total] of results) expect([id, total]).toEqual([id, expected.get(id)]);
    // Idle sources: the last windows close too (all but those within the delay of the end).
    const endMs = Math.max(...[...expected.keys()].map((id) => Number(id.split("/")[1])));
    const open = [...expected.keys()].filter((id) => !results.has(id));
    for (const id of open) expect(Number(id.split("/")[1])).toBeGreaterThan(endMs - 15 * MINUTE_MS);
  });
});
