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
    // Each system's backlog runs this often, alternating ours and Spark's, so that drift of the
    // shared 2 cores (page cache, the broker's log, other load) falls on both: the ratio is of
    // the means.
    rounds: quick ? 1 : 2,
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
  /** The first backlog round, with its memory, CPU and (ours) profile. */
  readonly throughput: ThroughputFigures;
  /** Events/s of every backlog round, the first one included. */
  readonly throughputRounds: readonly number[];
  readonly latency: LatencyFigures;
}

export interface EndToEndResult {
  readonly quick: boolean;
  /** The machine's 1-minute load average when the part began and when it ended (shared cores). */
  readonly loadAverage: readonly [number, number];
  readonly workload: ReturnType<typeof settings>;
  readonly sparkless: SystemFigures & {
    /** Rows our pipeline routed to `<pipeline>.late` on the backlog, all rounds (none expected). */
    readonly lateRowsOnBacklog: number;
    /** Whether every round gave exactly the expected windows. */
    readonly everyRoundEqualExpected: boolean;
    /** Events/s of the unmeasured warm-up run (DynamoDB Local's JIT, see `warmUpDynamoDb`). */
    readonly warmUpEventsPerSec: number;
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

/** A fresh run name and its log folder. */
function newRun(): { run: string; logDir: string } {
  const run = `e2e-${randomBytes(4).toString("hex")}`;
  const logDir = join(repoRoot, ".cache", "bench", "e2e-logs", run);
  mkdirSync(logDir, { recursive: true });
  return { run, logDir };
}

/** The throughput workload's events (quick or full), produced to `input`, with Spark's results. */
async function produceBacklog(options: {
  servers: Servers;
  quick: boolean;
  log: (line: string) => void;
  input: string;
}) {
  const { servers, input } = options;
  const workload = settings(options.quick);
  const kafka = benchKafka(servers);
  const clock: EventClock = {
    ...workload.throughput.clock,
    users: workload.users,
    partitions: workload.partitions,
  };
  const events = Array.from({ length: workload.throughput.events }, (_, i) => benchEvent(i, clock));
  const expected = expectedResults(events);
  await createTopics(kafka, [{ topic: input, partitions: workload.partitions }]);
  options.log(`Producing ${events.length} events (${expected.size} windows to close) to ${input}…`);
  await produceAll(kafka, input, events);
  return { kafka, servers, input, events, expected, timeoutMs: workload.throughput.timeoutMs };
}

/** A fresh run name, its log folder, and the backlog produced to a topic of its own. */
async function prepareBacklog(options: {
  servers: Servers;
  quick: boolean;
  log: (line: string) => void;
}) {
  const { run, logDir } = newRun();
  options.log(`End-to-end bench ${run}; process logs in ${logDir}`);
  // Throughput: the same backlog for both, each from the earliest offset.
  const backlog = await produceBacklog({ ...options, input: `${run}-backlog` });
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
 * Our pipeline once on the quick backlog (20,000 events) of its own, unmeasured, before the
 * measured rounds: it warms DynamoDB Local's JIT (about half of that process's CPU on a cold
 * first run) as producing the backlog warmed the broker. On AWS, DynamoDB is a warm service;
 * Spark uses no server of its own. Returns the warm-up's events/s, reported beside the measured
 * ones.
 */
async function warmUpDynamoDb(options: {
  servers: Servers;
  run: string;
  log: (line: string) => void;
  start: (name: string) => StartSystem;
}): Promise<number> {
  const { run } = options;
  const backlog = await produceBacklog({ ...options, quick: true, input: `${run}-warm-up` });
  options.log(`sparkless: warm-up on ${backlog.events.length} events of its own, unmeasured…`);
  const warm = await measureThroughput({
    ...backlog,
    start: options.start(`${run}-warm`),
    output: `${run}-out-warm`,
  });
  options.log(`  ${warm.figures.eventsPerSec} events/s (not counted)`);
  return warm.figures.eventsPerSec;
}

/** Watermark-to-result latency of one system on the live sequence, on topics of its own. */
function measureLive(options: {
  servers: Servers;
  quick: boolean;
  log: (line: string) => void;
  run: string;
  name: string;
  start: StartSystem;
}) {
  const { servers, run, name } = options;
  const workload = settings(options.quick);
  const { latency } = workload;
  const liveClock: EventClock = {
    stepMs: (latency.eventClockSpeed * 1000) / latency.eventsPerSec,
    jitterMs: latency.jitterMs,
    users: workload.users,
    partitions: workload.partitions,
  };
  options.log(`${name}: latency on ${latency.durationSec} s of live input…`);
  return measureLatency({
    kafka: benchKafka(servers),
    servers,
    start: options.start,
    input: `${run}-live-${name}`,
    output: `${run}-live-out-${name}`,
    eventAt: (i) => benchEvent(i, liveClock),
    count: latency.eventsPerSec * latency.durationSec,
    eventsPerSec: latency.eventsPerSec,
    timeoutMs: latency.timeoutMs,
  });
}

/** Only our pipeline on the live sequence: latency tuning between full runs (`--sparkless-live`). */
export async function benchSparklessLive(options: {
  servers: Servers;
  quick: boolean;
  log: (line: string) => void;
  profile?: boolean;
}) {
  const { run, logDir } = newRun();
  const ours = await measureLive({
    ...options,
    run,
    name: "sparkless",
    start: (input, output) =>
      startSparkless({
        servers: options.servers,
        name: `${run}-lat`,
        input,
        output,
        logDir,
        ...(options.profile ? { profile: true } : {}),
      }),
  });
  return { latency: ours.figures, profile: ours.profile, logDir };
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

  const warmUpEventsPerSec = await warmUpDynamoDb({ servers, run, log, start: sparkless });
  const oursRounds: Awaited<ReturnType<typeof measureThroughput>>[] = [];
  const theirsRounds: typeof oursRounds = [];
  let lateRowsOnBacklog = 0;
  const sparkOutput = (suffix: string) =>
    `${run}-out-spark-${protocol.toLowerCase().replace("_", "-")}${suffix}`;
  const { rounds } = workload.throughput;
  for (let round = 1; round <= rounds; round++) {
    const suffix = round === 1 ? "" : `-r${round}`;
    const of = rounds > 1 ? ` (round ${round} of ${rounds})` : "";
    log(`sparkless: throughput on the backlog${of}…`);
    const ours = await measureThroughput({
      ...backlog,
      start: sparkless(`${run}-tp${suffix}`),
      output: `${run}-out-sparkless${suffix}`,
    });
    oursRounds.push(ours);
    const lateRows = await topicSize(kafka, `${run}-tp${suffix}.late`);
    lateRowsOnBacklog += lateRows;
    log(`  ${ours.figures.eventsPerSec} events/s, ${lateRows} late rows`);

    log(`Spark: throughput on the backlog (${protocol})${of}…`);
    // The output topic's name carries the protocol, read when the round starts.
    const sparkRound = () =>
      measureThroughput({
        ...backlog,
        start: spark(`spark-tp${suffix}`),
        output: sparkOutput(suffix),
      });
    let theirs: Awaited<ReturnType<typeof measureThroughput>>;
    try {
      theirs = await sparkRound();
    } catch (error) {
      if (!servers.embedded.kafka || protocol !== "SASL_SSL") throw error;
      saslFailure = String(error).slice(0, 2_000);
      protocol = "PLAINTEXT";
      log(`  Spark failed on SASL_SSL, falling back to PLAINTEXT: ${saslFailure}`);
      theirs = await sparkRound();
    }
    theirsRounds.push(theirs);
    log(
      `  ${theirs.figures.eventsPerSec} events/s after ${theirs.figures.startupMs} ms of start-up`,
    );
  }
  const [ours, theirs] = [oursRounds[0], theirsRounds[0]] as [
    (typeof oursRounds)[number],
    (typeof theirsRounds)[number],
  ];

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
  const live = (name: string, start: StartSystem) =>
    measureLive({ servers, quick, log, run, name, start });
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
      throughputRounds: oursRounds.map((r) => r.figures.eventsPerSec),
      latency: oursLive.figures,
      lateRowsOnBacklog,
      everyRoundEqualExpected: oursRounds.every((r) => same(r.results, backlog.expected)),
      warmUpEventsPerSec,
      ...(backlogWithOnePartition ? { backlogWithOnePartition } : {}),
    },
    spark: {
      throughput: theirs.figures,
      throughputRounds: theirsRounds.map((r) => r.figures.eventsPerSec),
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
