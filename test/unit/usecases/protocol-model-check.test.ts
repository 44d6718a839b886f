import type { Message, TopicMessages } from "kafkajs";
import { describe, expect, it } from "vitest";
import { encodeProgressMarker, encodeRepartitioned } from "../../../shared/codec/repartition.ts";
import { windowsFor } from "../../../shared/engine/windows.ts";
import type { KafkaRecord } from "../../../shared/msk/event.ts";
import { definePipeline, type Pipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";
import type { WindowStore } from "../../../shared/store/window-store.ts";
import { FLUSH_QUIET_MS, flushDueWindows } from "../../../shared/usecases/flush.ts";
import { HEADERS } from "../../../shared/usecases/headers.ts";
import { processWindowBatch, watermarkOf } from "../../../shared/usecases/window-batch.ts";
import {
  Crash,
  gatedStore,
  type Marker,
  type ModelEvent,
  random,
  Scheduler,
} from "./model-check-scheduler.ts";

/*
 * Model checking in the small (issue 13 §2): random schedules of the window protocol against the
 * in-memory store — 2–3 repartition partitions interleaved at every store call and produce,
 * crashes before and after each of them, redeliveries with other batch boundaries, re-produced
 * prefixes, two invocations of one partition at once, flushes racing them, shards split by a tiny
 * item limit, and (with `watermarkFrom: "sources"`) the parse step's progress markers to every
 * partition, whose progress writes (`readPartition`, `recordSources`) are crashed before and
 * after taking effect like every other call — and after every schedule the invariants:
 *
 * 1. every (key, window) result is byte-identical each time it is produced;
 * 2. no event is counted twice (each event's amount is 4^i, so a sum is a base-4 number whose
 *    digits must all be 0 or 1);
 * 3. nothing is counted after its window was emitted (the closed state equals what went out);
 * 4. every event is counted in its window or reported late, never both, never neither;
 * 5. an event is reported late only if the watermark its invocation read had passed its window's
 *    end, or its window had been closed before that invocation produced the late record;
 * 6. every window whose end the final watermark passed is emitted (after the last flush).
 *
 * `MODEL_CHECK_SCHEDULES=20000` runs more (a bench mode); the default 1,500 keeps `npm test` well under a
 * minute (about 25 s on a loaded 2-core machine).
 */

const SCHEDULES = Number(process.env.MODEL_CHECK_SCHEDULES ?? 1_500);
// Replays from a failing seed: MODEL_CHECK_FIRST_SEED=4319 MODEL_CHECK_SCHEDULES=1.
const FIRST_SEED = Number(process.env.MODEL_CHECK_FIRST_SEED ?? 1);
const MINUTE_MS = 60_000;

interface Outcome {
  readonly violations: string[];
  readonly splits: number;
}

async function runSchedule(seed: number, crashes: Map<string, number>): Promise<Outcome> {
  const rng = random(seed);
  const partitions = 2 + rng.int(2);
  // Half the schedules get one bucket and an item limit so small that most shards split.
  const tinyItems = rng.chance(0.5);
  // Half the schedules use the watermark from every source's progress (issue 14).
  const watermarkFrom = rng.chance(0.5) ? "sources" : "max";
  const pipeline: Pipeline = definePipeline({
    ...userSpending.definition,
    partitions,
    stateBuckets: tinyItems ? 1 : 2,
    watermarkFrom,
  });
  const memory = new MemoryWindowStore(tinyItems ? 48 : 350_000);
  const scheduler = new Scheduler(rng, 0.06);

  // Source events: two source partitions, mostly in time order, some out of order (late).
  const events: ModelEvent[] = [];
  const offsets = new Map<number, number>();
  let streamTimeMs = 0;
  const count = 8 + rng.int(9);
  const nextOffset = (s: number) => {
    const offset = offsets.get(s) ?? 0;
    offsets.set(s, offset + 1);
    return offset;
  };
  for (let index = 0; index < count; index++) {
    streamTimeMs += rng.int(5) * MINUTE_MS;
    const back = rng.chance(0.2) ? (5 + rng.int(20)) * MINUTE_MS : 0;
    const s = rng.int(2);
    events.push({
      index,
      key: "abcdef"[rng.int(6)] as string,
      eventTimeMs: Math.max(0, streamTimeMs - back) + rng.int(60) * 1_000,
      source: `t/${s}`,
      sourceOffset: nextOffset(s),
    });
  }
  const partitionOf = (key: string) => key.charCodeAt(0) % partitions;
  // Repartition queues, with re-produced prefixes (a parse batch retried after producing). With
  // `sources`, a parse batch of a source ends (at random) with its progress marker to every
  // partition, behind that batch's events (issue 14's wire format).
  const queues: Array<Array<ModelEvent | Marker>> = Array.from({ length: partitions }, () => []);
  const batchMaxMs = new Map<string, number>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as ModelEvent;
    queues[partitionOf(e.key)]?.push(e);
    batchMaxMs.set(e.source, Math.max(batchMaxMs.get(e.source) ?? e.eventTimeMs, e.eventTimeMs));
    if (rng.chance(0.15)) {
      const from = rng.int(i + 1);
      for (const again of events.slice(from, i + 1).filter((x) => x.source === e.source))
        queues[partitionOf(again.key)]?.push(again);
    }
    if (watermarkFrom === "sources" && rng.chance(0.4)) {
      const marker: Marker = {
        marker: true,
        source: e.source,
        maxEventTimeMs: batchMaxMs.get(e.source) as number,
        sourceOffset: e.sourceOffset,
        behind: rng.chance(0.2),
      };
      batchMaxMs.delete(e.source);
      for (const q of queues) q.push(marker);
    }
  }
  const record = (p: number, offset: number, e: ModelEvent | Marker): KafkaRecord => ({
    topic: pipeline.topics.repartition,
    partition: p,
    offset,
    timestampMs: 0,
    key: "marker" in e ? null : Buffer.from(e.key),
    value: Buffer.from(
      "marker" in e
        ? encodeProgressMarker(e)
        : encodeRepartitioned(
            {
              groupKey: e.key,
              eventTimeMs: e.eventTimeMs,
              row: { amount: 4 ** e.index },
              source: e.source,
              sourceOffset: e.sourceOffset,
            },
            pipeline.carriedColumns,
          ),
    ),
    headers: [],
  });

  // What the world saw.
  const produced: Array<{ step: number; topic: string; message: Message }> = [];
  const closes: Array<{ step: number; partition: number; endMs: number }> = [];
  let splits = 0;
  const lateReads = new Map<Message, number | undefined>();
  const nowMs = () => 1_000_000 + scheduler.step * 2_000;

  const actorDeps = (watermarkRead: { ms: number | undefined }) => {
    const store = gatedStore(memory, scheduler, (name, args, result) => {
      if (name === "readPartition") {
        watermarkRead.ms = (result as { watermarkMs?: number } | undefined)?.watermarkMs;
      }
      if (name === "readProgress" && watermarkFrom === "max") {
        watermarkRead.ms = watermarkOf(
          result as Awaited<ReturnType<WindowStore["readProgress"]>>,
          pipeline.watermarkDelayMs,
        ).watermarkMs;
      }
      if (name === "closeShard" && result === true) {
        const id = args[1] as { partition: number; endMs: number };
        closes.push({ step: scheduler.step, partition: id.partition, endMs: id.endMs });
      }
      if (name === "splitShard" && result === true) splits++;
    });
    const send = async (topics: TopicMessages[]) => {
      await scheduler.gate("send:before");
      for (const t of topics)
        for (const message of t.messages) {
          produced.push({ step: scheduler.step, topic: t.topic, message });
          if (t.topic === pipeline.topics.late) lateReads.set(message, watermarkRead.ms);
        }
      await scheduler.gate("send:after");
    };
    return { pipeline, store, send, nowMs };
  };

  // Errors other than injected crashes: Lambda retries the batch; they must not repeat forever.
  const failures: string[] = [];
  const committed = Array.from({ length: partitions }, () => 0);
  const invocation = (p: number, size: number) => async () => {
    const from = committed[p] as number;
    const batch = (queues[p] as Array<ModelEvent | Marker>).slice(from, from + size);
    if (batch.length === 0) return;
    try {
      await processWindowBatch(
        batch.map((e, i) => record(p, from + i, e)),
        actorDeps({ ms: undefined }),
      );
      committed[p] = Math.max(committed[p] as number, from + batch.length);
    } catch (error) {
      if (!(error instanceof Crash)) failures.push((error as Error).message);
    }
  };
  const flush = async () => {
    try {
      await flushDueWindows(actorDeps({ ms: undefined }));
    } catch (error) {
      if (!(error instanceof Crash)) failures.push((error as Error).message);
    }
  };

  // Rounds of 1–3 actors; crashes stop after a while so every schedule drains.
  const remaining = () => queues.some((q, p) => (committed[p] as number) < q.length);
  for (let round = 0; remaining() || round < 3; round++) {
    if (round === 25) scheduler.crashChance = 0;
    if (round > 60) {
      return {
        violations: [`seed ${seed}: does not drain (${failures.slice(-3).join("; ")})`],
        splits,
      };
    }
    const actors: Array<() => Promise<void>> = [];
    for (let n = 1 + rng.int(3); n > 0; n--) {
      const roll = rng.next();
      const p = rng.int(partitions);
      if (roll < 0.15) actors.push(flush);
      else actors.push(invocation(p, 1 + rng.int(4)));
      if (roll > 0.85) actors.push(invocation(p, 1 + rng.int(4))); // a concurrent retry
    }
    await scheduler.run(actors);
  }
  // Quiet: the flush closes whatever is due.
  scheduler.crashChance = 0;
  scheduler.step += FLUSH_QUIET_MS;
  await scheduler.run([flush]);
  for (const [label, n] of scheduler.crashesAt) crashes.set(label, (crashes.get(label) ?? 0) + n);

  return { violations: check(), splits };

  function check(): string[] {
    const violations: string[] = [];
    const windowOf = (e: ModelEvent) =>
      windowsFor(e.eventTimeMs, pipeline.windowSizeMs, pipeline.windowSlideMs)[0] as {
        startMs: number;
        endMs: number;
      };
    // 1. byte-identical results
    const results = new Map<string, string>();
    for (const { topic, message } of produced) {
      if (topic !== pipeline.topics.output) continue;
      const id = String(message.headers?.[HEADERS.resultId]);
      const before = results.get(id);
      if (before !== undefined && before !== String(message.value))
        violations.push(`result ${id} produced as ${before} and ${String(message.value)}`);
      results.set(id, String(message.value));
    }
    // 2. counted once: decode each result's sum
    const countedIn = new Map<number, string>();
    for (const [id, value] of results) {
      let total = JSON.parse(value).total_spent as number;
      for (let digit = 0; total > 0; digit++) {
        const d = total % 4;
        total = (total - d) / 4;
        if (d > 1) violations.push(`result ${id} counts event ${digit} ${d} times`);
        if (d === 1) countedIn.set(digit, id);
      }
    }
    // 3. nothing counted after emission: the final closed state is what went out
    const idOf = (key: string, startMs: number, endMs: number) =>
      `${pipeline.name}/${key}/${startMs}/${endMs}`;
    const finalState = memory.allShards(pipeline.name);
    for (const shard of finalState) {
      for (const [key, state] of shard.entries) {
        const id = idOf(key, shard.startMs, shard.endMs);
        if (shard.closedAtMs !== undefined && !results.has(id))
          violations.push(`closed window ${id} never emitted`);
        if (shard.closedAtMs !== undefined && results.has(id)) {
          const emittedTotal = JSON.parse(results.get(id) as string).total_spent;
          if (emittedTotal !== (state as number[])[0])
            violations.push(`window ${id} changed after it was emitted`);
        }
      }
    }
    // 4 and 5. every event counted or late, never both; late only when justified
    const lateEvents = new Map<string, { step: number; message: Message }>();
    for (const { step, topic, message } of produced) {
      if (topic !== pipeline.topics.late) continue;
      const h = message.headers ?? {};
      lateEvents.set(
        `${h[HEADERS.sourceTopic]}/${h[HEADERS.sourcePartition]}#${h[HEADERS.sourceOffset]}`,
        { step, message },
      );
    }
    for (const e of events) {
      const late = lateEvents.get(`${e.source}#${e.sourceOffset}`);
      const counted = countedIn.get(e.index);
      const { startMs, endMs } = windowOf(e);
      const openState = finalState.find(
        (s) =>
          s.closedAtMs === undefined &&
          s.endMs === endMs &&
          s.partition === partitionOf(e.key) &&
          ((s.entries.get(e.key) as number[] | undefined)?.[0] ?? 0) % 4 ** (e.index + 1) >=
            4 ** e.index,
      );
      if (counted && counted !== idOf(e.key, startMs, endMs))
        violations.push(`event ${e.index} counted in ${counted}`);
      if (late && (counted || openState)) violations.push(`event ${e.index} both counted and late`);
      if (!late && !counted && !openState) violations.push(`event ${e.index} lost`);
      if (late) {
        const watermarkMs = lateReads.get(late.message);
        const closedBefore = closes.some(
          (c) => c.partition === partitionOf(e.key) && c.endMs === endMs && c.step <= late.step,
        );
        if (!(watermarkMs !== undefined && endMs <= watermarkMs) && !closedBefore)
          violations.push(`event ${e.index} late under watermark ${watermarkMs}, window open`);
      }
    }
    // 6. due windows emitted
    const progress = memory.progressNow(pipeline.name);
    const final = watermarkOf(progress, pipeline.watermarkDelayMs);
    const finalOf = (partition: number) =>
      watermarkFrom === "max"
        ? final.watermarkMs
        : progress.partitions.find((p) => p.partition === partition)?.watermarkMs;
    for (const shard of finalState) {
      const watermarkMs = finalOf(shard.partition);
      if (shard.closedAtMs === undefined && !shard.split && shard.entries.size > 0)
        if (watermarkMs !== undefined && shard.endMs <= watermarkMs)
          violations.push(
            `window ending ${shard.endMs} of partition ${shard.partition} due, never emitted`,
          );
    }
    return violations.map((v) => `seed ${seed}: ${v}`);
  }
}

describe("the window protocol, model-checked in the small", () => {
  // Found with MODEL_CHECK_SCHEDULES=20000 once markers were modelled: two invocations of one
  // partition on the same batch (a redelivery racing the first attempt), and between their reads
  // the watermark passes a window not open yet (seed 4319: the flush, moved by the sources'
  // progress). The one that read the older watermark counted the event and emitted it; the other
  // had read its leaf absent and sent the event to the late topic too. Fixed by closing a late
  // event's leaf before reporting it (settleLateEvents in window-protocol.ts).
  it("never reports an event late that a racing invocation counted (seeds 4319, 10165)", async () => {
    const violations: string[] = [];
    for (const seed of [4319, 10165])
      violations.push(...(await runSchedule(seed, new Map())).violations);
    expect(violations).toEqual([]);
  });

  it(`keeps its invariants over ${SCHEDULES} random schedules of partitions, crashes, redeliveries and flushes`, async () => {
    // Prepare
    const crashes = new Map<string, number>();
    const violations: string[] = [];
    let splits = 0;

    // Act
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SCHEDULES; seed++) {
      const outcome = await runSchedule(seed, crashes);
      violations.push(...outcome.violations);
      splits += outcome.splits;
    }

    // Assess
    console.log(
      `[model-check] ${SCHEDULES} schedules, ${[...crashes.values()].reduce((a, b) => a + b, 0)} crashes ` +
        `at ${crashes.size} distinct steps, ${splits} shard splits, ${violations.length} violations`,
    );
    expect(violations.slice(0, 20)).toEqual([]);
    // Every store call and the produce were crashed before and after somewhere.
    for (const step of [
      "openWindows",
      "putShard",
      "recordProgress",
      "readPartition",
      "recordSources",
      "closeShard",
      "closeEnds",
      "send",
    ])
      for (const when of ["before", "after"])
        expect(crashes.get(`${step}:${when}`)).toBeGreaterThan(0);
  }, 120_000);
});
