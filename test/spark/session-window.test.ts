import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TopicMessages } from "kafkajs";
import { beforeAll, describe, expect, it } from "vitest";
import type { KafkaRecord } from "../../shared/msk/event.ts";
import { definePipeline } from "../../shared/pipeline/pipeline.ts";
import { MemoryWindowStore } from "../../shared/store/memory-window-store.ts";
import { parseFilterStep } from "../../shared/usecases/parse-filter.ts";
import { processWindowBatch } from "../../shared/usecases/window-batch.ts";
import { ensurePySpark } from "../bench/spark/install.ts";

// A trace with gaps, merges (a late event bridging two sessions) and late events, run through real
// Spark 3.5.7's session_window query one micro-batch per batch (session_window.py), and through
// sparkless's parse/filter and window steps batch by batch: the same sessions and aggregates.
const MIN_MS = 60_000;
const GAP_MS = 5 * MIN_MS;
const DELAY_MS = 10 * MIN_MS;
const T0_MS = Date.UTC(2025, 0, 1, 12, 0, 0);

interface TraceEvent {
  readonly user: string;
  readonly amount: number;
  readonly eventTimeMs: number;
}

/** A seeded trace: users active in bursts, out of order within the delay, some events late. */
function generateTrace(seed: number, batches: number): TraceEvent[][] {
  let s = seed;
  const random = () => {
    s = (s * 48_271) % 2_147_483_647;
    return s / 2_147_483_647;
  };
  const trace: TraceEvent[][] = [];
  let nowMs = T0_MS;
  for (let b = 0; b < batches; b++) {
    const batch: TraceEvent[] = [];
    const size = 3 + Math.floor(random() * 10);
    for (let i = 0; i < size; i++) {
      // Mostly around "now", some minutes back (merging, bridging), a few well behind (late).
      const r = random();
      const backMs =
        r < 0.7 ? random() * 4 * MIN_MS : r < 0.9 ? random() * 14 * MIN_MS : random() * 40 * MIN_MS;
      const eventTimeMs = Math.round((nowMs - backMs) / 1000) * 1000;
      batch.push({
        user: `u${Math.floor(random() * 5)}`,
        amount: Math.floor(random() * 1000) / 4,
        eventTimeMs,
      });
    }
    trace.push(batch);
    nowMs += random() * 6 * MIN_MS;
  }
  // One far event at the end: its watermark passes every session of the trace, in both.
  trace.push([{ user: "end", amount: 0, eventTimeMs: nowMs + 24 * 60 * MIN_MS }]);
  return trace;
}

/**
 * Drops the events whose fate depends on micro-batch boundaries (engine/sessions.ts): on time
 * (t + gap > watermark) but touching a session Spark has already emitted, which Spark turns into
 * a second, overlapping session and sparkless merges. Spark's rules, plainly: late iff
 * t + gap <= the watermark before the batch; the watermark moves after the batch; a session is
 * emitted once its end <= the watermark.
 */
function withoutBoundaryCases(trace: TraceEvent[][]) {
  type Span = { start: number; end: number };
  const open = new Map<string, Span[]>();
  const emitted = new Map<string, Span[]>();
  let watermarkMs: number | undefined;
  let maxMs: number | undefined;
  const seen = { dropped: 0, late: 0, bridges: 0, sessions: 0 };
  const kept = trace.map((batch) => {
    const out: TraceEvent[] = [];
    for (const e of batch) {
      const late = watermarkMs !== undefined && e.eventTimeMs + GAP_MS <= watermarkMs;
      const touches = (s: Span) => e.eventTimeMs <= s.end && s.start <= e.eventTimeMs + GAP_MS;
      if (!late && (emitted.get(e.user) ?? []).some(touches)) {
        seen.dropped++;
        continue;
      }
      out.push(e);
      maxMs = Math.max(maxMs ?? e.eventTimeMs, e.eventTimeMs);
      if (late) {
        seen.late++;
        continue;
      }
      const spans = open.get(e.user) ?? [];
      const merged = { start: e.eventTimeMs, end: e.eventTimeMs + GAP_MS };
      const rest = spans.filter((s) => !touches(s));
      for (const s of spans.filter(touches)) {
        merged.start = Math.min(merged.start, s.start);
        merged.end = Math.max(merged.end, s.end);
      }
      if (spans.length - rest.length >= 2) seen.bridges++;
      open.set(e.user, [...rest, merged]);
    }
    if (maxMs !== undefined) watermarkMs = Math.max(watermarkMs ?? -Infinity, maxMs - DELAY_MS);
    for (const [user, spans] of open) {
      const done = spans.filter((s) => watermarkMs !== undefined && s.end <= watermarkMs);
      seen.sessions += done.length;
      open.set(
        user,
        spans.filter((s) => !done.includes(s)),
      );
      emitted.set(user, [...(emitted.get(user) ?? []), ...done]);
    }
    return out;
  });
  return { trace: kept, ...seen };
}

const asJson = (e: TraceEvent) =>
  JSON.stringify({
    user: e.user,
    amount: e.amount,
    event_time: new Date(e.eventTimeMs).toISOString(),
  });

interface SparkRun {
  readonly rows: ReadonlyArray<{ readonly batch: number; readonly value: string }>;
}

/** Runs session_window.py over the traces in one JVM; per trace, Spark's rows in the order they came out. */
async function runSpark(traces: string[][][]): Promise<SparkRun[]> {
  const python = await ensurePySpark((line) => console.log(`[spark] ${line}`));
  const dir = mkdtempSync(join(tmpdir(), "sparkless-sessions-"));
  try {
    const input = join(dir, "input.json");
    const output = join(dir, "output.json");
    writeFileSync(input, JSON.stringify({ traces, gap: "5 minutes", delay: "10 minutes" }));
    await new Promise<void>((resolve, reject) => {
      const child = spawn(python, [join(import.meta.dirname, "session_window.py"), input, output], {
        env: {
          ...process.env,
          PYSPARK_PYTHON: python,
          PYSPARK_DRIVER_PYTHON: python,
          SPARK_LOCAL_IP: "127.0.0.1",
        },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      child.once("error", reject);
      child.once("exit", (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`session_window.py exited with ${code}:\n${stderr}`)),
      );
    });
    return (JSON.parse(readFileSync(output, "utf8")) as { runs: SparkRun[] }).runs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same batches through sparkless: parse/filter, then the window step, one call per batch. */
async function runSparkless(batches: string[][]): Promise<string[]> {
  const pipeline = definePipeline({
    name: "sessions",
    source: { topics: ["transactions"] },
    schema: { user: "string", amount: "double", event_time: "timestamp" },
    groupKey: "user",
    eventTime: "event_time",
    window: { type: "session", gap: "5 minutes" },
    watermark: "10 minutes",
    aggregations: [
      { fn: "sum", column: "amount", as: "total" },
      { fn: "count", as: "n" },
      { fn: "max", column: "amount", as: "top" },
    ],
    watermarkFrom: "max", // one repartition partition: Spark's rule exactly
    partitions: 1,
    stateBuckets: 3,
    output: { topic: "sessions-out" },
  });
  const parse = parseFilterStep(pipeline);
  const store = new MemoryWindowStore();
  const sent: TopicMessages[] = [];
  const deps = {
    pipeline,
    store,
    send: async (t: TopicMessages[]) => void sent.push(...t),
    nowMs: () => 0,
  };
  let sourceOffset = 0;
  let repartitionOffset = 0;
  for (const batch of batches) {
    const source: KafkaRecord[] = batch.map((value) => ({
      topic: "transactions",
      partition: 0,
      offset: sourceOffset++,
      timestampMs: 0,
      key: null,
      value: Buffer.from(value),
      headers: [],
    }));
    const { repartition, deadLetter } = parse(source);
    expect(deadLetter).toEqual([]);
    await processWindowBatch(
      repartition.map((m) => ({
        topic: pipeline.topics.repartition,
        partition: 0,
        offset: repartitionOffset++,
        timestampMs: 0,
        key: Buffer.from(String(m.key)),
        value: Buffer.from(String(m.value)),
        headers: [],
      })),
      deps,
    );
  }
  return sent
    .filter((t) => t.topic === pipeline.topics.output)
    .flatMap((t) => t.messages.map((m) => String(m.value)));
}

describe("session windows against Spark 3.5.7's session_window", () => {
  const traces = [1, 2].map((seed) => withoutBoundaryCases(generateTrace(seed, 20)));
  const batches = traces.map(({ trace }) => trace.map((b) => b.map(asJson)));
  let spark: SparkRun[];

  beforeAll(async () => {
    spark = await runSpark(batches);
  }, 600_000);

  it.each([0, 1])("trace %i: the same sessions and aggregates", async (i) => {
    const theirs = (spark[i] as SparkRun).rows.map((r) => r.value);
    const ours = await runSparkless(batches[i] as string[][]);
    // The trace exercises what it is meant to: merges, several sessions per user, late events.
    expect(theirs.length).toBeGreaterThan(10);
    expect(ours.sort()).toEqual(theirs.sort());
  });

  it("the traces hold gaps, bridging merges and late events", () => {
    const sum = (f: (t: (typeof traces)[number]) => number) => traces.reduce((n, t) => n + f(t), 0);
    console.log(
      `[spark] session traces: ${sum((t) => t.trace.flat().length)} events, ${sum((t) => t.sessions)} sessions, ` +
        `${sum((t) => t.bridges)} bridging events, ${sum((t) => t.late)} late, ${sum((t) => t.dropped)} boundary-dependent left out`,
    );
    expect(sum((t) => t.trace.flat().length)).toBeGreaterThan(100);
    for (const t of traces) {
      expect(t.late).toBeGreaterThan(0);
      expect(t.bridges).toBeGreaterThan(0);
    }
  });
});
