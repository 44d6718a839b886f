import type { TopicMessages } from "kafkajs";
import { describe, expect, it } from "vitest";
import { bucketOf } from "../../../shared/engine/buckets.ts";
import type { KafkaRecord } from "../../../shared/msk/event.ts";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";
import { FLUSH_QUIET_MS, flushDueWindows } from "../../../shared/usecases/flush.ts";
import { parseFilterStep } from "../../../shared/usecases/parse-filter.ts";
import { processWindowBatch } from "../../../shared/usecases/window-batch.ts";

const MINUTE_MS = 60_000;
const T0_MS = Date.UTC(2025, 0, 1, 12);
const PARTITIONS = 2;

/**
 * The default pipeline with `watermarkFrom: "sources"`, in memory, with control over which source
 * is parsed and which repartition partition is windowed when — the skews of issue 14.
 */
function harness(sourceCount: number) {
  const pipeline = definePipeline({
    ...userSpending.definition,
    partitions: PARTITIONS,
    watermarkFrom: "sources",
    sourceIdle: "1 minute",
    source: { ...userSpending.definition.source, batchSize: 10 },
  });
  let nowMs = 1_000_000;
  const sent: TopicMessages[] = [];
  const deps = {
    pipeline,
    store: new MemoryWindowStore(),
    nowMs: () => nowMs,
    send: async (t: TopicMessages[]) => void sent.push(...t),
    expectedSources: sourceCount,
  };
  const parse = parseFilterStep(pipeline);
  const offsets = Array.from({ length: sourceCount }, () => 0);
  const nextOffset = (s: number) => {
    const offset = offsets[s] ?? 0;
    offsets[s] = offset + 1;
    return offset;
  };
  const queues: KafkaRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  const read = Array.from({ length: PARTITIONS }, () => 0);
  const events: Array<{ user: string; amount: number; eventTimeMs: number }> = [];
  let late = 0;
  return {
    pipeline,
    events,
    late: () => late,
    advance: (ms: number) => {
      nowMs += ms;
    },
    /** One parse batch of source `s`: events at the given minutes after T0. */
    produce(s: number, minutes: readonly number[]) {
      const records = minutes.map((m, i): KafkaRecord => {
        const event = {
          user: `u${(s + i) % 3}`,
          amount: 1 + (offsets[s] as number),
          eventTimeMs: T0_MS + m * MINUTE_MS,
        };
        events.push(event);
        return {
          topic: "transactions",
          partition: s,
          offset: nextOffset(s),
          timestampMs: nowMs,
          key: null,
          value: Buffer.from(
            JSON.stringify({
              user: event.user,
              amount: event.amount,
              event_time: event.eventTimeMs / 1000,
            }),
          ),
          headers: [],
        };
      });
      for (const m of parse(records).repartition) {
        const p = m.partition ?? bucketOf(String(m.key), PARTITIONS);
        const queue = queues[p] as KafkaRecord[];
        queue.push({
          topic: pipeline.topics.repartition,
          partition: p,
          offset: queue.length,
          // Events keep their source timestamp; markers get the produce time (kafkajs: now).
          timestampMs: m.timestamp === undefined ? nowMs : Number(m.timestamp),
          key: m.key === null ? null : Buffer.from(String(m.key)),
          value: Buffer.from(String(m.value)),
          headers: [],
        });
      }
    },
    /** Windows everything repartition partition `p` has not read yet. */
    async window(p: number, batchSize = Number.POSITIVE_INFINITY) {
      const queue = queues[p] as KafkaRecord[];
      for (let from = read[p] ?? 0; from < queue.length; from = read[p] ?? 0) {
        const batch = queue.slice(from, from + batchSize);
        read[p] = from + batch.length;
        late += (await processWindowBatch(batch, deps)).late;
      }
    },
    flush: () => flushDueWindows(deps),
    /** Emitted totals by `user|start ms`. */
    results(): Map<string, number> {
      const out = new Map<string, number>();
      for (const t of sent.filter((t) => t.topic === pipeline.topics.output))
        for (const m of t.messages) {
          const v = JSON.parse(String(m.value));
          out.set(`${v.user}|${Date.parse(v.window.start)}`, v.total_spent);
        }
      return out;
    },
    /** What every window of the events so far totals (nothing is late in these traces). */
    expected(): Map<string, number> {
      const out = new Map<string, number>();
      for (const e of events) {
        const id = `${e.user}|${e.eventTimeMs - (e.eventTimeMs % (5 * MINUTE_MS))}`;
        out.set(id, (out.get(id) ?? 0) + e.amount);
      }
      return out;
    },
  };
}

const minutes = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("issue 14 scenarios with watermarkFrom 'sources' (in memory)", () => {
  it("a repartition partition paused for longer than twice the delay loses nothing once resumed", async () => {
    // Prepare
    const h = harness(2);

    // Act: both sources move 60 minutes over 24 minutes of wall clock; partition 0 keeps up,
    // partition 1 is paused (the flush runs every 2 minutes meanwhile), then resumed.
    for (let m = 0; m < 60; m += 5) {
      h.produce(0, minutes(m, m + 5));
      h.produce(1, minutes(m, m + 5));
      await h.window(0);
      if (m < 10) await h.window(1); // partition 1 runs for the first 10 minutes, then pauses
      h.advance(2 * MINUTE_MS);
      await h.flush();
    }
    const whilePaused = h.late();
    await h.window(1, 3); // resumed: its backlog in small batches, one source's records first

    // Assess: nothing late; every emitted window has its full total.
    expect(whilePaused).toBe(0);
    expect(h.late()).toBe(0);
    const results = h.results();
    expect(results.size).toBeGreaterThan(0);
    for (const [id, total] of results) expect([id, total]).toEqual([id, h.expected().get(id)]);
  });

  it("a source that goes quiet stops holding the watermark after the idle time", async () => {
    // Prepare: source 1 stops at minute 9 (caught up: its batch was not full); source 0 goes on.
    const h = harness(2);
    h.produce(1, minutes(0, 9));
    for (let m = 0; m < 60; m += 5) h.produce(0, minutes(m, m + 5));
    await h.window(0);
    await h.window(1);
    const held = h.results().size;

    // Act: the idle time passes; source 0 sends more; its partitions' invocations and the flush run.
    h.advance(MINUTE_MS + FLUSH_QUIET_MS);
    h.produce(0, minutes(60, 65));
    await h.window(0);
    await h.window(1);
    h.advance(FLUSH_QUIET_MS);
    await h.flush();

    // Assess: source 1 held everything back at its minute 8 − 10 min; once idle, the watermark
    // followed source 0 (minute 64 − 10): windows up to the one ending at minute 50 went out,
    // all with their full totals.
    expect(held).toBe(0);
    const results = h.results();
    const endsMin = [...results.keys()].map(
      (id) => (Number(id.split("|")[1]) - T0_MS) / MINUTE_MS + 5,
    );
    expect(Math.max(...endsMin)).toBe(50);
    for (const [id, total] of results) expect([id, total]).toEqual([id, h.expected().get(id)]);
    expect(h.late()).toBe(0);
  });

  it("a slow source that is behind holds results back and loses nothing", async () => {
    // Prepare: source 1 lags 40 minutes behind source 0 with full batches (behind).
    const h = harness(2);
    for (let m = 0; m < 60; m += 10) {
      h.produce(0, minutes(m, m + 10));
      if (m >= 40) h.produce(1, minutes(m - 40, m - 30));
      await h.window(0);
      await h.window(1);
    }

    // Act: long past the idle time: a source behind is never idle.
    h.advance(10 * MINUTE_MS);
    await h.flush();
    const heldBack = [...h.results().keys()].map((id) => Number(id.split("|")[1]));
    // The slow source catches up.
    for (let m = 20; m < 60; m += 10) {
      h.produce(1, minutes(m, m + 10));
      await h.window(0);
      await h.window(1);
    }

    // Assess: results waited for the slow source (nothing ended after its 20 min − 10 min),
    // nothing was late, and every window is complete.
    expect(Math.max(...heldBack, T0_MS)).toBeLessThanOrEqual(T0_MS + 5 * MINUTE_MS);
    expect(h.late()).toBe(0);
    const results = h.results();
    expect(results.size).toBeGreaterThan(heldBack.length);
    for (const [id, total] of results) expect([id, total]).toEqual([id, h.expected().get(id)]);
  });
});
