import type { Kafka } from "kafkajs";
import type { Servers } from "../../../localstack/servers.ts";
import { type BenchEvent, expectedResults, parseResult, WATERMARK_DELAY_MS } from "./events.ts";
import { createTopics, produceAtRate, type ReadRecord, readAll, TopicReader } from "./kafka-io.ts";
import { CpuMeter, RssSampler } from "./memory.ts";
import type { RunningSystem } from "./process.ts";

/** Starts a system under test on `input`, writing to `output`. */
export type StartSystem = (input: string, output: string) => Promise<RunningSystem>;

/** The window results read from an output topic, as they arrive. */
/** No new result for this long, after some came: the system has produced all it will. */
const QUIET_OUTPUT_MS = 60_000;

class ResultLog {
  /** id → total_spent, the value's bytes (as text) and the broker time of its first copy. */
  readonly byId = new Map<
    string,
    { totalSpent: number; value: string; brokerMs: number; endMs: number }
  >();
  duplicates = 0;
  /** Duplicates whose total differs from the first copy's (must stay 0). */
  duplicatesDiffering = 0;
  private read = 0;

  constructor(private readonly reader: TopicReader) {}

  /** Takes in what the reader got since the last call. */
  update(): this {
    for (; this.read < this.reader.records.length; this.read++) {
      const record = this.reader.records[this.read] as ReadRecord;
      const { id, endMs, totalSpent } = parseResult(record.value);
      const first = this.byId.get(id);
      if (first === undefined)
        this.byId.set(id, { totalSpent, value: record.value, brokerMs: record.brokerMs, endMs });
      else {
        this.duplicates++;
        if (first.totalSpent !== totalSpent) this.duplicatesDiffering++;
      }
    }
    return this;
  }

  totals(): Map<string, number> {
    return new Map([...this.byId].map(([id, r]) => [id, r.totalSpent]));
  }

  /** id → the output value as written, for a byte-for-byte comparison with Spark's. */
  values(): Map<string, string> {
    return new Map([...this.byId].map(([id, r]) => [id, r.value]));
  }

  hasAll(expected: ReadonlyMap<string, number>): boolean {
    for (const id of expected.keys()) if (!this.byId.has(id)) return false;
    return true;
  }
}

interface Run {
  readonly system: RunningSystem;
  readonly results: ResultLog;
  readonly complete: boolean;
  /** Peak memory per process (MB): the system's VmHWM, the servers' sampled RSS. */
  readonly peakMemoryMb: Record<string, number>;
  /** From start-up to the last expected result: average cores busy, per process and machine. */
  readonly cpu: ReturnType<CpuMeter["stop"]>;
  /** The system's per-stage profile at that moment, when it keeps one. */
  readonly profile: unknown;
}

/**
 * Runs a system on `input` until every expected result is on `output` (or `timeoutMs`), while
 * `during` runs (a live producer), then stops it and reads memory peaks.
 */
async function runUntilComplete(options: {
  kafka: Kafka;
  servers: Servers;
  start: StartSystem;
  input: string;
  output: string;
  expected: () => ReadonlyMap<string, number> | undefined;
  timeoutMs: number;
  during?: () => Promise<void>;
}): Promise<Run> {
  const { kafka, servers } = options;
  await createTopics(kafka, [{ topic: options.output, partitions: 1 }]);
  const reader = new TopicReader(kafka, options.output);
  await reader.start();
  let system: RunningSystem | undefined;
  let stopped = false;
  const sampler = new RssSampler(() => ({
    ...system?.pids(),
    kafkaBroker: servers.embedded.kafka?.pid,
    dynamodbLocal: servers.embedded.dynamodb?.pid,
  }));
  try {
    system = await options.start(options.input, options.output);
    const serverPids = {
      kafkaBroker: servers.embedded.kafka?.pid,
      dynamodbLocal: servers.embedded.dynamodb?.pid,
    };
    const cpuMeter = new CpuMeter({ ...system.pids(), ...serverPids });
    let exitCode: number | null | undefined;
    void system.exited.then((code) => {
      exitCode = code;
    });
    await options.during?.();
    const results = new ResultLog(reader);
    // A system that will never produce some expected window (its events were all late) goes
    // quiet: stop waiting then, rather than at the timeout, and report the run incomplete.
    let resultsSeen = 0;
    let lastResultMs = Date.now();
    const hasAll = () => {
      const expected = options.expected();
      return expected !== undefined && results.update().hasAll(expected);
    };
    await reader.waitFor(() => {
      if (exitCode !== undefined) return true; // crashed: fail now, not at the timeout
      if (hasAll()) return true;
      if (results.byId.size !== resultsSeen) {
        resultsSeen = results.byId.size;
        lastResultMs = Date.now();
      }
      return resultsSeen > 0 && Date.now() - lastResultMs > QUIET_OUTPUT_MS;
    }, options.timeoutMs);
    const complete = hasAll();
    const cpu = cpuMeter.stop();
    const profile = system.profile?.();
    // Anything a system would add after the expected results (it should not) arrives by then.
    await reader.waitFor(() => false, 2_000);
    results.update();
    if (exitCode !== undefined)
      throw new Error(`exited with ${exitCode} while running; see ${system.logFile}`);
    stopped = true;
    const processPeaks = await system.stop();
    return {
      system,
      results,
      complete,
      peakMemoryMb: { ...sampler.stop(), ...processPeaks },
      cpu,
      profile,
    };
  } finally {
    sampler.stop();
    if (!stopped) await system?.stop();
    await reader.stop();
  }
}

export interface ThroughputFigures {
  readonly events: number;
  readonly windows: number;
  /** Every expected result arrived before the timeout. */
  readonly complete: boolean;
  /** From spawn to consuming (the pipeline's set-up, Spark's session and query start). */
  readonly startupMs: number;
  /** From consuming to the last expected result on the output topic (broker time). */
  readonly processingMs: number;
  readonly eventsPerSec: number;
  readonly firstResultAfterMs: number;
  /** Output records repeating a window already out (at-least-once re-sends). */
  readonly duplicateResults: number;
  readonly duplicatesDiffering: number;
  readonly peakMemoryMb: Record<string, number>;
  /** Cores busy from start-up to the last result: what bounds the throughput on this machine. */
  readonly cpu: Run["cpu"];
  /** Our per-stage profile (`localstack/esm/stage-profile.ts`), when the run kept one. */
  readonly profile?: unknown;
}

/** Sustained throughput on a pre-loaded backlog, and the results it gave. */
export async function measureThroughput(options: {
  kafka: Kafka;
  servers: Servers;
  start: StartSystem;
  input: string;
  output: string;
  events: readonly BenchEvent[];
  expected: ReadonlyMap<string, number>;
  timeoutMs: number;
}): Promise<{
  figures: ThroughputFigures;
  results: Map<string, number>;
  values: Map<string, string>;
}> {
  const { expected } = options;
  const run = await runUntilComplete({ ...options, expected: () => expected });
  const { system, results } = run;
  const arrivals = [...results.byId].filter(([id]) => expected.has(id)).map(([, r]) => r.brokerMs);
  const lastMs = arrivals.reduce((a, b) => Math.max(a, b), -Infinity);
  const firstMs = arrivals.reduce((a, b) => Math.min(a, b), Infinity);
  const processingMs = lastMs - system.startedMs;
  return {
    figures: {
      events: options.events.length,
      windows: expected.size,
      complete: run.complete,
      startupMs: system.startedMs - system.spawnedMs,
      processingMs,
      eventsPerSec: Math.round(options.events.length / (processingMs / 1000)),
      firstResultAfterMs: firstMs - system.startedMs,
      duplicateResults: results.duplicates,
      duplicatesDiffering: results.duplicatesDiffering,
      peakMemoryMb: run.peakMemoryMb,
      cpu: run.cpu,
      ...(run.profile === undefined ? {} : { profile: run.profile }),
    },
    results: results.totals(),
    values: results.values(),
  };
}

export interface LatencyFigures {
  readonly events: number;
  readonly eventsPerSec: number;
  /** Results measured, and the distinct window ends (watermark crossings) among them. */
  readonly count: number;
  readonly windowEnds: number;
  readonly complete: boolean;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly startupMs: number;
  readonly peakMemoryMb: Record<string, number>;
}

/**
 * Latency from the input record that moves the watermark past a window's end to that window's
 * result, both in broker time (LogAppendTime), on live input at a fixed rate.
 */
export async function measureLatency(options: {
  kafka: Kafka;
  servers: Servers;
  start: StartSystem;
  input: string;
  output: string;
  eventAt: (i: number) => BenchEvent;
  count: number;
  eventsPerSec: number;
  timeoutMs: number;
}): Promise<{
  figures: LatencyFigures;
  /** Our per-stage profile (invocation counts), when the run kept one. */
  profile?: unknown;
  results: Map<string, number>;
  values: Map<string, string>;
}> {
  const { kafka, input } = options;
  await createTopics(kafka, [{ topic: input, partitions: 3 }]);
  let expected: Map<string, number> | undefined;
  const run = await runUntilComplete({
    ...options,
    expected: () => expected,
    during: async () => {
      const produced = await produceAtRate(
        kafka,
        input,
        options.eventAt,
        options.count,
        options.eventsPerSec,
      );
      expected = expectedResults(produced);
    },
  });
  const crossings = watermarkCrossings(await readAll(kafka, input));
  const latencies: number[] = [];
  for (const r of run.results.byId.values()) {
    const crossedMs = crossings(r.endMs);
    if (crossedMs !== undefined) latencies.push(r.brokerMs - crossedMs);
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.max(0, Math.ceil(q * latencies.length) - 1)] ?? NaN;
  return {
    figures: {
      events: options.count,
      eventsPerSec: options.eventsPerSec,
      count: latencies.length,
      windowEnds: new Set([...run.results.byId.values()].map((r) => r.endMs)).size,
      complete: run.complete,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: at(1),
      startupMs: run.system.startedMs - run.system.spawnedMs,
      peakMemoryMb: run.peakMemoryMb,
    },
    ...(run.profile === undefined ? {} : { profile: run.profile }),
    results: run.results.totals(),
    values: run.results.values(),
  };
}

/** How many results both systems wrote, and how many of those values are the same bytes. */
export interface ValueBytesComparison {
  readonly inBoth: number;
  readonly byteIdentical: number;
  /** A few that differ, ours then Spark's, to see why (summation order, a printing rule). */
  readonly examples: ReadonlyArray<{ readonly ours: string; readonly spark: string }>;
}

/**
 * Compares output values byte for byte, window by window (README, "Semantics": the bytes are
 * Spark's `to_json`). Sums of doubles may differ in the last digits where the two systems add in
 * a different order; everything else must be identical.
 */
export function compareValueBytes(
  ours: ReadonlyMap<string, string>,
  spark: ReadonlyMap<string, string>,
): ValueBytesComparison {
  let inBoth = 0;
  let byteIdentical = 0;
  const examples: Array<{ ours: string; spark: string }> = [];
  for (const [id, value] of ours) {
    const theirs = spark.get(id);
    if (theirs === undefined) continue;
    inBoth++;
    if (Buffer.from(value).equals(Buffer.from(theirs))) byteIdentical++;
    else if (examples.length < 3) examples.push({ ours: value, spark: theirs });
  }
  return { inBoth, byteIdentical, examples };
}

/**
 * For a window end, the broker time of the first input record (in broker order) after which
 * max event time − watermark delay ≥ that end: the record that closed the window.
 */
function watermarkCrossings(input: readonly ReadRecord[]): (endMs: number) => number | undefined {
  const ordered = input
    .map((r) => ({
      brokerMs: r.brokerMs,
      eventTimeMs: Date.parse((JSON.parse(r.value) as { event_time: string }).event_time),
    }))
    .sort((a, b) => a.brokerMs - b.brokerMs);
  // Watermark after each record, never decreasing: binary-searchable.
  const watermarks: number[] = [];
  let maxMs = Number.NEGATIVE_INFINITY;
  for (const r of ordered) {
    maxMs = Math.max(maxMs, r.eventTimeMs);
    watermarks.push(maxMs - WATERMARK_DELAY_MS);
  }
  return (endMs) => {
    let [lo, hi] = [0, watermarks.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((watermarks[mid] as number) >= endMs) hi = mid;
      else lo = mid + 1;
    }
    return ordered[lo]?.brokerMs;
  };
}
