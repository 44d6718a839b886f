import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../../localstack/paths.ts";
import type { Servers } from "../../../localstack/servers.ts";
import { ensureSpark, SPARK_VERSION } from "../spark/install.ts";
import { type SparkProtocol, startSpark } from "../spark/launch.ts";
import {
  benchEvent,
  compareResults,
  type EventClock,
  expectedResults,
  type ResultsComparison,
} from "./events.ts";
import { benchKafka, createTopics, produceAll, topicSize } from "./kafka-io.ts";
import {
  compareValueBytes,
  type LatencyFigures,
  measureLatency,
  measureThroughput,
  type StartSystem,
  type ThroughputFigures,
  type ValueBytesComparison,
} from "./measure.ts";
import { startSparkless } from "./sparkless.ts";

/** The workloads; quick fits a minute or two per system on 2 cores. */
const settings = (quick: boolean) => ({
  users: 1_000,
  partitions: 3,
  throughput: {
    events: quick ? 20_000 : 200_000,
    // Event time spans ~33 min (quick) or ~100 min: enough windows close behind the watermark.
    clock: { stepMs: quick ? 100 : 30, jitterMs: 60_000 },
    timeoutMs: quick ? 300_000 : 900_000,
  },
  latency: {
    eventsPerSec: 200,
    durationSec: quick ? 20 : 90,
    // 120× real time: a 5-minute window closes every 2.5 s, the watermark trails by 5 s.
    eventClockSpeed: 120,
    jitterMs: 30_000,
    timeoutMs: 120_000,
  },
});

export interface SystemFigures {
  readonly throughput: ThroughputFigures;
  readonly latency: LatencyFigures;
}

export interface EndToEndResult {
  readonly quick: boolean;
  /** The machine's 1-minute load average when the part began and when it ended (shared cores). */
  readonly loadAverage: readonly [number, number];
  readonly workload: ReturnType<typeof settings>;
  readonly sparkless: SystemFigures & {
    /** Rows our pipeline routed to `<pipeline>.late` on the backlog (none expected). */
    readonly lateRowsOnBacklog: number;
    /**
     * Only when the default had late rows on the backlog: the README's advice for a backfill,
     * `partitions: 1`, on the same backlog, and whether its results then equal Spark's.
     */
    readonly backlogWithOnePartition?: {
      readonly throughput: ThroughputFigures;
      readonly lateRows: number;
      readonly comparedToSpark: ResultsComparison;
    };
  };
  readonly spark: SystemFigures & {
    readonly version: string;
    readonly kafkaProtocol: SparkProtocol;
    /** Why SASL_SSL was given up for PLAINTEXT, if it was. */
    readonly saslFailure?: string;
    /** First-run install (PyPI + Maven Central): 0 s when cached. */
    readonly install: { readonly seconds: number; readonly diskMb: number };
  };
  /** Window by window (user, start, end, total_spent with a relative tolerance of 1e-9). */
  readonly sameResults: {
    readonly throughput: ResultsComparison & {
      /** Output values byte for byte (Spark's to_json), for the windows both wrote. */
      readonly valueBytes: ValueBytesComparison;
      readonly expected: number;
      readonly oursEqualExpected: boolean;
      readonly sparkEqualsExpected: boolean;
    };
    readonly latency: ResultsComparison & { readonly valueBytes: ValueBytesComparison };
  };
}

/** A fresh run name, its log folder, and the backlog produced to a topic of its own. */
async function prepareBacklog(options: {
  servers: Servers;
  quick: boolean;
  log: (line: string) => void;
}) {
  const { servers, log } = options;
  const workload = settings(options.quick);
  const kafka = benchKafka(servers);
  const run = `e2e-${randomBytes(4).toString("hex")}`;
  const logDir = join(repoRoot, ".cache", "bench", "e2e-logs", run);
  mkdirSync(logDir, { recursive: true });
  log(`End-to-end bench ${run}; process logs in ${logDir}`);
  // Throughput: the same backlog for both, each from the earliest offset.
  const clock: EventClock = {
    ...workload.throughput.clock,
    users: workload.users,
    partitions: workload.partitions,
  };
  const events = Array.from({ length: workload.throughput.events }, (_, i) => benchEvent(i, clock));
  const expected = expectedResults(events);
  const input = `${run}-backlog`;
  await createTopics(kafka, [{ topic: input, partitions: workload.partitions }]);
  log(`Producing ${events.length} events (${expected.size} windows to close) to ${input}…`);
  await produceAll(kafka, input, events);
  const backlog = {
    kafka,
    servers,
    input,
    events,
    expected,
    timeoutMs: workload.throughput.timeoutMs,
  };
  return { run, logDir, backlog };
}

/**
 * Only our pipeline on the backlog, at its defaults: for profiling and tuning between full runs
 * (`npx tsx test/bench/e2e/main.ts --sparkless-backlog [--profile] [--cpu-prof]`).
 */
export async function benchSparklessBacklog(options: {
  servers: Servers;
  quick: boolean;
  log: (line: string) => void;
  profile?: boolean;
  cpuProf?: boolean;
  batchSize?: number;
  watermarkFrom?: "max" | "sources";
}) {
  const { run, logDir, backlog } = await prepareBacklog(options);
  const ours = await measureThroughput({
    ...backlog,
    start: (input, output) =>
      startSparkless({
        servers: options.servers,
        name: `${run}-tp`,
        input,
        output,
        logDir,
        ...(options.profile ? { profile: true } : {}),
        ...(options.cpuProf ? { cpuProfDir: logDir } : {}),
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        ...(options.watermarkFrom ? { watermarkFrom: options.watermarkFrom } : {}),
      }),
    output: `${run}-out-sparkless`,
  });
  const lateRows = await topicSize(backlog.kafka, `${run}-tp.late`);
  return {
    throughput: ours.figures,
    lateRows,
    comparedToExpected: compareResults(ours.results, backlog.expected),
    expected: backlog.expected.size,
    logDir,
  };
}

/**
 * Our default pipeline and the seed's PySpark job on the same broker, one after the other:
 * sustained throughput on a pre-loaded backlog, latency on live input, peak memory of every
 * process, and whether both gave the same windows.
 */
export async function benchEndToEnd(options: {
  servers: Servers;
  quick: boolean;
  log: (line: string) => void;
  /** Keep our per-stage profile on the backlog run (a few % of overhead). */
  profile?: boolean;
}): Promise<EndToEndResult> {
  const { servers, quick, log, profile } = options;
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const workload = settings(quick);
  const install = await ensureSpark(log);
  const kafka = benchKafka(servers);
  const { run, logDir, backlog } = await prepareBacklog(options);

  const sparkless = (name: string, partitions?: number): StartSystem => {
    return (input, output) =>
      startSparkless({
        servers,
        name,
        input,
        output,
        logDir,
        ...(partitions ? { partitions } : {}),
        ...(profile ? { profile } : {}),
      });
  };
  let protocol: SparkProtocol = "SASL_SSL";
  let saslFailure: string | undefined;
  const spark = (name: string): StartSystem => {
    return (input, output) =>
      startSpark({
        install,
        servers,
        protocol,
        input,
        output,
        logFile: join(logDir, `${name}-${protocol}.log`),
      });
  };

  log("sparkless: throughput on the backlog…");
  const ours = await measureThroughput({
    ...backlog,
    start: sparkless(`${run}-tp`),
    output: `${run}-out-sparkless`,
  });
  const lateRowsOnBacklog = await topicSize(kafka, `${run}-tp.late`);
  log(`  ${ours.figures.eventsPerSec} events/s, ${lateRowsOnBacklog} late rows`);

  log("Spark: throughput on the backlog (SASL_SSL)…");
  const sparkOutput = () => `${run}-out-spark-${protocol.toLowerCase().replace("_", "-")}`;
  let theirs: Awaited<ReturnType<typeof measureThroughput>>;
  try {
    theirs = await measureThroughput({
      ...backlog,
      start: spark("spark-tp"),
      output: sparkOutput(),
    });
  } catch (error) {
    if (!servers.embedded.kafka) throw error;
    saslFailure = String(error).slice(0, 2_000);
    protocol = "PLAINTEXT";
    log(`  Spark failed on SASL_SSL, falling back to PLAINTEXT: ${saslFailure}`);
    theirs = await measureThroughput({
      ...backlog,
      start: spark("spark-tp"),
      output: sparkOutput(),
    });
  }
  log(`  ${theirs.figures.eventsPerSec} events/s after ${theirs.figures.startupMs} ms of start-up`);

  let backlogWithOnePartition: EndToEndResult["sparkless"]["backlogWithOnePartition"];
  if (lateRowsOnBacklog > 0) {
    log("sparkless: the backlog again with partitions: 1 (README's backfill advice)…");
    const single = await measureThroughput({
      ...backlog,
      start: sparkless(`${run}-tp1`, 1),
      output: `${run}-out-sparkless-1`,
    });
    const lateRows = await topicSize(kafka, `${run}-tp1.late`);
    log(`  ${single.figures.eventsPerSec} events/s, ${lateRows} late rows`);
    backlogWithOnePartition = {
      throughput: single.figures,
      lateRows,
      comparedToSpark: compareResults(single.results, theirs.results),
    };
  }

  // Latency: the same live sequence for each, on topics of its own.
  const { latency } = workload;
  const liveClock: EventClock = {
    stepMs: (latency.eventClockSpeed * 1000) / latency.eventsPerSec,
    jitterMs: latency.jitterMs,
    users: workload.users,
    partitions: workload.partitions,
  };
  const live = (name: string, start: StartSystem) => {
    log(`${name}: latency on ${latency.durationSec} s of live input…`);
    return measureLatency({
      kafka,
      servers,
      start,
      input: `${run}-live-${name}`,
      output: `${run}-live-out-${name}`,
      eventAt: (i) => benchEvent(i, liveClock),
      count: latency.eventsPerSec * latency.durationSec,
      eventsPerSec: latency.eventsPerSec,
      timeoutMs: latency.timeoutMs,
    });
  };
  const oursLive = await live("sparkless", sparkless(`${run}-lat`));
  log(`  p50 ${oursLive.figures.p50Ms} ms, p99 ${oursLive.figures.p99Ms} ms`);
  const theirsLive = await live("spark", spark("spark-lat"));
  log(`  p50 ${theirsLive.figures.p50Ms} ms, p99 ${theirsLive.figures.p99Ms} ms`);

  const same = (a: Map<string, number>, b: Map<string, number>) => {
    const c = compareResults(a, b);
    return c.differing === 0 && c.onlyInOurs === 0 && c.onlyInSpark === 0;
  };
  return {
    quick,
    loadAverage: [loadBefore, loadavg()[0] ?? Number.NaN].map((n) => Math.round(n * 100) / 100) as [
      number,
      number,
    ],
    workload,
    sparkless: {
      throughput: ours.figures,
      latency: oursLive.figures,
      lateRowsOnBacklog,
      ...(backlogWithOnePartition ? { backlogWithOnePartition } : {}),
    },
    spark: {
      throughput: theirs.figures,
      latency: theirsLive.figures,
      version: SPARK_VERSION,
      kafkaProtocol: protocol,
      ...(saslFailure === undefined ? {} : { saslFailure }),
      install: { seconds: Math.round(install.installSeconds), diskMb: Math.round(install.diskMb) },
    },
    sameResults: {
      throughput: {
        ...compareResults(ours.results, theirs.results),
        expected: backlog.expected.size,
        oursEqualExpected: same(ours.results, backlog.expected),
        sparkEqualsExpected: same(theirs.results, backlog.expected),
        valueBytes: compareValueBytes(ours.values, theirs.values),
      },
      latency: {
        ...compareResults(oursLive.results, theirsLive.results),
        valueBytes: compareValueBytes(oursLive.values, theirsLive.values),
      },
    },
  };
}
