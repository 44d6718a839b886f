// `npm run soak [-- --rate 200 --minutes 10]`: sustained load, a benchmark rather than a test. The
// default pipeline runs in a child process of its own (so its memory is measured apart) on servers
// of its own (profile `soak`), fed at a fixed rate for a fixed time. Every ~10 s a progress line;
// at the end memory, lag and accounting figures with verdicts. The last line is the path of the
// JSON result file. The same file is the child when SPARKLESS_SOAK_CHILD is set.
// `npm run soak -- --sigkill <rounds>`: instead, the pipeline process killed with SIGKILL at random
// moments while it works, <rounds> times, then left to finish; every result must be Spark's and a
// duplicate only byte-identical (the hardening test's rounds, test/integration/hardening/).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { startLocalPipeline } from "../../localstack/local-pipeline.ts";
import { cacheDir, stateDir } from "../../localstack/paths.ts";
import { startServers, stopServers } from "../../localstack/servers.ts";
import { type KafkaConnection, toKafkaJsConfig } from "../../shared/kafka/connection.ts";
import { userSpending as pipeline } from "../../shared/pipelines/user-spending.ts";
import { runSigkillRounds } from "../integration/hardening/sigkill-rounds.ts";
import { reportHardening } from "../integration/report.ts";

const PROFILE = "soak";
const CHILD_ENV = "SPARKLESS_SOAK_CHILD";
const SAMPLE_EVERY_MS = 10_000;
const DRAIN_TIMEOUT_MS = 60_000;
const LATE_AFTER_MS = 10_000;
const SPEED = 60; // event clock vs wall clock, as `npm start`: 5-minute windows close in seconds

interface ChildSettings {
  readonly kafka: KafkaConnection;
  readonly dynamoDbEndpoint: string | undefined;
}

/** What the child prints, one JSON line every 2 s. */
interface ChildReport {
  readonly totals: Awaited<ReturnType<typeof startLocalPipeline>>["totals"];
  readonly mappings: Record<
    string,
    { invocations: number; errors: number; retries: number; skipped: number }
  >;
}

const settings = process.env[CHILD_ENV];
if (settings) await runPipeline(JSON.parse(settings) as ChildSettings);
else process.exit(await main());

async function runPipeline(settings: ChildSettings): Promise<void> {
  const local = await startLocalPipeline({
    pipeline,
    kafka: settings.kafka,
    dynamoDbEndpoint: settings.dynamoDbEndpoint,
    tableName: "sparkless-state",
    fromEarliest: true,
  });
  const report = () => {
    const mappings: ChildReport["mappings"] = {};
    for (const runner of local.runners) {
      const sum = { invocations: 0, errors: 0, retries: 0, skipped: 0 };
      for (const s of Object.values(runner.snapshot())) {
        sum.invocations += s.invocations;
        sum.errors += s.errors;
        sum.retries += s.retries;
        sum.skipped += s.failedBatches;
      }
      mappings[runner.config.name] = sum;
    }
    console.log(JSON.stringify({ soak: { totals: local.totals, mappings } }));
  };
  report();
  const timer = setInterval(report, 2_000);
  process.once("SIGTERM", () => {
    clearInterval(timer);
    report();
    local.stop().finally(() => process.exit(0));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rate: { type: "string", default: "200" },
      minutes: { type: "string", default: "10" },
      sigkill: { type: "string" },
    },
  });
  if (values.sigkill !== undefined) return await sigkillSoak(Number(values.sigkill));
  const rate = Number(values.rate);
  const minutes = Number(values.minutes);
  if (!(rate > 0) || !(minutes > 0)) {
    console.error(
      "Usage: npm run soak -- [--rate <events/s, default 200>] [--minutes <n, default 10>] | --sigkill <rounds>",
    );
    return 2;
  }
  const durationMs = minutes * 60_000;
  // Memory after the warm-up is the baseline "flat" is judged against.
  const warmUpMs = Math.min(60_000, durationMs / 3);
  console.log(`sparkless soak: ${rate} events/s for ${minutes} min, Node ${process.versions.node}`);

  let child: ChildProcess | undefined;
  try {
    const servers = await startServers({ profile: PROFILE, env: {}, log: console.log });
    const { kafka: kafkaJvm, dynamodb: dynamoDbJvm } = servers.embedded;
    if (!kafkaJvm || !dynamoDbJvm) throw new Error("the soak needs its own embedded servers");
    const childLog = join(stateDir(PROFILE), "pipeline.log");
    child = spawn(process.execPath, ["--import", "tsx", import.meta.filename], {
      env: {
        ...process.env,
        [CHILD_ENV]: JSON.stringify({
          kafka: servers.kafka,
          dynamoDbEndpoint: servers.dynamoDbEndpoint,
        } satisfies ChildSettings),
      },
      stdio: ["ignore", "pipe", openSync(childLog, "a")],
    });
    const pipelinePid = child.pid as number;
    const latest: { report?: ChildReport } = {};
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (line.startsWith('{"soak":'))
        latest.report = (JSON.parse(line) as { soak: ChildReport }).soak;
    });
    while (!latest.report) {
      if (child.exitCode !== null) throw new Error(`the pipeline process exited; see ${childLog}`);
      await sleep(100);
    }

    const kafka = new Kafka(
      toKafkaJsConfig(servers.kafka, "sparkless-soak", { logLevel: logLevel.ERROR }),
    );
    const admin = kafka.admin();
    await admin.connect();
    const pids = { pipeline: pipelinePid, kafka: kafkaJvm.pid, dynamodb: dynamoDbJvm.pid };
    const producer = await startProducer(kafka, pipeline.topics.sources[0] as string, rate);
    const startedMs = Date.now();
    const samples: Sample[] = [];
    const sample = async (): Promise<Sample> => {
      const report = latest.report as ChildReport;
      const s: Sample = {
        elapsedS: Math.round((Date.now() - startedMs) / 1000),
        sent: producer.counts.sent,
        resultsOut: await endOffsets(admin, pipeline.topics.output),
        lag: await lagByMapping(admin),
        rssMb: mapValues(pids, (pid) => procStatusMb(pid, "VmRSS")),
        deadLetters: report.totals.parse.invalid + report.totals.window.invalid,
        failedBatches: skipped(report),
        errors: Object.values(report.mappings).reduce((n, m) => n + m.errors, 0),
      };
      samples.push(s);
      return s;
    };
    console.log(progressLine(await sample()));
    while (Date.now() - startedMs < durationMs) {
      if (child.exitCode !== null) throw new Error(`the pipeline process died; see ${childLog}`);
      await sleep(Math.min(SAMPLE_EVERY_MS, durationMs - (Date.now() - startedMs)));
      console.log(progressLine(await sample()));
    }
    const peakMb = mapValues(pids, (pid) => procStatusMb(pid, "VmHWM"));
    await producer.stop();

    // Drain: the pipeline catches up with what was sent, then the counts are final.
    const drainStartMs = Date.now();
    let drained = false;
    while (!drained && Date.now() - drainStartMs < DRAIN_TIMEOUT_MS) {
      await sleep(1_000);
      const lag = await lagByMapping(admin);
      drained =
        Object.values(lag).every((n) => n === 0) &&
        (latest.report?.totals.parse.in ?? 0) >= producer.counts.sent;
    }
    const drainMs = Date.now() - drainStartMs;
    await sleep(3_000); // the child's next report carries the last counts
    const final = latest.report as ChildReport;
    const windowsOut = await endOffsets(admin, pipeline.topics.output);
    await admin.disconnect();

    const running = samples.filter((s) => s.elapsedS > 0);
    const warm = samples.find((s) => s.elapsedS * 1000 >= warmUpMs) ?? samples[0];
    const last = samples[samples.length - 1] as Sample;
    const memory = mapValues(pids, (_, name) => {
      const at = (s: Sample | undefined) => s?.rssMb[name] ?? 0;
      const afterWarmUp = at(warm);
      const end = at(last);
      return {
        startMb: at(samples[0]),
        afterWarmUpMb: afterWarmUp,
        endMb: end,
        peakMb: peakMb[name],
        flat: end <= afterWarmUp * 1.2,
      };
    });
    const maxLag = mapValues(last.lag, (_, name) =>
      Math.max(...running.map((s) => s.lag[name] ?? 0)),
    );
    const lagBound = rate * 10; // at most ~10 s of input behind
    const { parse, window } = final.totals;
    const sent = producer.counts;
    const events = {
      sent: sent.sent,
      sentByKind: { valid: sent.valid, late: sent.late, malformed: sent.malformed },
      producerErrors: sent.errors,
      parsed: parse.in,
      counted: window.counted,
      late: window.late,
      duplicatesSkipped: window.duplicates,
      deadLetter: parse.invalid + window.invalid,
      filtered: parse.filtered,
    };
    const verdicts = {
      memoryFlat: Object.values(memory).every((m) => m.flat),
      lagBounded: Object.values(maxLag).every((n) => n <= lagBound) && drained,
      accounted:
        parse.in === sent.sent &&
        window.in === parse.valid &&
        window.counted + window.duplicates === sent.valid &&
        window.late === sent.late &&
        events.deadLetter === sent.malformed,
      noErrors: last.errors === 0 && skipped(final) === 0 && sent.errors === 0,
    };
    const summary = {
      rate,
      minutes,
      node: process.versions.node,
      pids,
      memory,
      lag: { max: maxLag, end: last.lag, bound: lagBound, drainMs, drained },
      events,
      windowsOut,
      emitted: window.emitted + final.totals.flushEmitted,
      errors: {
        mappings: final.mappings,
        failedBatches: skipped(final),
        producer: sent.errors,
      },
      verdicts,
      samples,
    };

    console.log("\nmemory (RSS, MB)    start  after warm-up    end   peak  flat");
    for (const [name, m] of Object.entries(memory)) {
      console.log(
        `  ${name.padEnd(16)} ${fmt(m.startMb, 6)} ${fmt(m.afterWarmUpMb, 14)} ${fmt(m.endMb, 6)} ${fmt(m.peakMb, 6)}  ${m.flat ? "yes" : "NO"}`,
      );
    }
    console.log(
      `consumer lag (records): max ${JSON.stringify(maxLag)}, at the end ${JSON.stringify(last.lag)}, bound ${lagBound}; drained in ${(drainMs / 1000).toFixed(1)} s: ${drained ? "yes" : "NO"}`,
    );
    console.log(
      `events: sent ${sent.sent} (valid ${sent.valid}, late ${sent.late}, malformed ${sent.malformed}), parsed ${parse.in}, counted ${window.counted}, late ${window.late}, dead-letter ${events.deadLetter}, duplicates skipped ${window.duplicates}`,
    );
    console.log(
      `windows out: ${windowsOut} records on ${pipeline.topics.output} (emitted ${summary.emitted})`,
    );
    console.log(
      `errors: mappings ${JSON.stringify(final.mappings)}, skipped batches ${skipped(final)}, producer ${sent.errors}`,
    );
    console.log(
      `verdicts: ${Object.entries(verdicts)
        .map(([k, v]) => `${k} ${v ? "yes" : "NO"}`)
        .join(", ")}`,
    );

    const dir = join(cacheDir, "..", "bench");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `soak-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`\n${file}`);
    return Object.values(verdicts).every(Boolean) ? 0 : 1;
  } finally {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await Promise.race([new Promise((r) => child?.once("exit", r)), sleep(10_000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    await stopServers(PROFILE);
  }
}

/** Batches the mappings skipped past: none may be (no destination, retries until success). */
function skipped(report: ChildReport): number {
  return Object.values(report.mappings).reduce((n, m) => n + m.skipped, 0);
}

/** `--sigkill <rounds>`: kill rounds on servers of their own; exit code 0 iff nothing was wrong. */
async function sigkillSoak(rounds: number): Promise<number> {
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error("Usage: npm run soak -- --sigkill <rounds, e.g. 100>");
    return 2;
  }
  const profile = "soak-sigkill";
  console.log(`sparkless soak: the pipeline process killed with SIGKILL ${rounds} times`);
  try {
    const servers = await startServers({ profile, env: {}, log: console.log });
    const startedMs = Date.now();
    const outcome = await runSigkillRounds({
      rounds,
      kafka: servers.kafka,
      dynamoDbEndpoint: servers.dynamoDbEndpoint,
      eventsPerRound: 300,
      maxKillDelayMs: 3_000,
      finishTimeoutMs: 600_000,
      seed: 11,
      log: console.log,
      processLog: join(stateDir(profile), "pipeline.log"),
    });
    const wrong = [...outcome.expected].filter(([w, t]) => outcome.actual.get(w) !== t).length;
    const extra = [...outcome.actual.keys()].filter((w) => !outcome.expected.has(w)).length;
    const summary = {
      rounds,
      killedWhileWorking: outcome.killedWhileWorking,
      crashed: outcome.crashed,
      eventsIn: outcome.row.eventsIn,
      parsedByKilledProcesses: outcome.parsedByKilled,
      windowsExpected: outcome.expected.size,
      windowsMissingOrWrong: wrong,
      windowsUnexpected: extra,
      resultsOut: outcome.row.resultsOut,
      duplicatesByteIdentical: outcome.row.duplicated,
      firstInvocationMs: outcome.firstInvocationMs,
      roundsMinutes: Number((outcome.roundsMs / 60_000).toFixed(1)),
      finishSeconds: Number((outcome.finishMs / 1000).toFixed(1)),
      totalMinutes: Number(((Date.now() - startedMs) / 60_000).toFixed(1)),
      node: process.versions.node,
    };
    reportHardening(outcome.row);
    console.log(
      `rounds ${rounds} (killed while invoking: ${outcome.killedWhileWorking}, crashed by themselves: ${outcome.crashed}); events ${summary.eventsIn}, ` +
        `parsed by the killed processes ${summary.parsedByKilledProcesses}; windows expected ${summary.windowsExpected}, ` +
        `missing or wrong ${wrong}, unexpected ${extra}; results out ${summary.resultsOut}, byte-identical duplicates ${summary.duplicatesByteIdentical}; ` +
        `first invocation after start: median ${summary.firstInvocationMs.median} ms, max ${summary.firstInvocationMs.max} ms; ` +
        `rounds ${summary.roundsMinutes} min, last run to the last result ${summary.finishSeconds} s`,
    );
    const dir = join(cacheDir, "..", "bench");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `soak-sigkill-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`\n${file}`);
    return wrong === 0 && extra === 0 && outcome.crashed === 0 ? 0 : 1;
  } finally {
    await stopServers(profile);
  }
}

interface Sample {
  elapsedS: number;
  sent: number;
  resultsOut: number;
  lag: Record<string, number>;
  rssMb: Record<string, number>;
  deadLetters: number;
  failedBatches: number;
  errors: number;
}

function progressLine(s: Sample): string {
  const lag = Object.entries(s.lag)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const rss = Object.entries(s.rssMb)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return `[${String(s.elapsedS).padStart(4)} s] sent ${s.sent} · results out ${s.resultsOut} · lag ${lag} · RSS MB ${rss} · dead letters ${s.deadLetters} · skipped batches ${s.failedBatches} · errors ${s.errors}`;
}

/**
 * Produces the `transactions` events of the demo producer's mix at `ratePerSec`, counting what the
 * broker acknowledged by kind: every 50th is malformed, another every 50th (after the first 10 s)
 * 20 minutes late.
 */
async function startProducer(kafka: Kafka, topic: string, ratePerSec: number) {
  const producer = kafka.producer();
  await producer.connect();
  const counts = { sent: 0, valid: 0, late: 0, malformed: 0, errors: 0 };
  const startedMs = Date.now();
  const users = Array.from({ length: 10 }, (_, i) => `user-${i}`);
  let made = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const due = Math.floor(((Date.now() - startedMs) / 1000) * ratePerSec) - made;
      const kinds = { valid: 0, late: 0, malformed: 0 };
      const messages = Array.from({ length: Math.max(0, due) }, () => {
        const n = made++;
        const nowMs = startedMs + (Date.now() - startedMs) * SPEED;
        const user = users[n % users.length] as string;
        if (n % 50 === 17) {
          kinds.malformed++;
          return { value: `{"user": "${user}", "amount": 12.5, "event_time": ` };
        }
        // Spark's first batch has no watermark yet, so nothing is late in it: late ones come later.
        const late = n % 50 === 33 && Date.now() - startedMs >= LATE_AFTER_MS;
        kinds[late ? "late" : "valid"]++;
        const eventTimeMs = late ? nowMs - 20 * 60_000 : nowMs - Math.floor(Math.random() * 30_000);
        const amount = Math.round(Math.random() * 10_000) / 100;
        return {
          value: JSON.stringify({
            user,
            action: "purchase",
            amount,
            event_time: new Date(eventTimeMs).toISOString(),
          }),
        };
      });
      if (messages.length > 0) {
        try {
          await producer.send({ topic, messages });
          counts.sent += messages.length;
          counts.valid += kinds.valid;
          counts.late += kinds.late;
          counts.malformed += kinds.malformed;
        } catch {
          counts.errors += messages.length;
        }
      }
      await sleep(100);
    }
  })();
  return {
    counts,
    async stop() {
      stopped = true;
      await loop;
      await producer.disconnect();
    },
  };
}

/** Records behind, per mapping: high watermarks minus the group's committed offsets, summed. */
async function lagByMapping(admin: Admin): Promise<Record<string, number>> {
  const mappings = {
    "parse-filter": pipeline.topics.sources,
    window: [pipeline.topics.repartition],
  };
  const lag: Record<string, number> = {};
  for (const [name, topics] of Object.entries(mappings)) {
    const groupId = `sparkless-${pipeline.name}-${name}`;
    const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
    let behind = 0;
    for (const topic of topics) {
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
        const offset = Number(mine.find((p) => p.partition === partition)?.offset ?? -1);
        behind += Number(high) - (offset >= 0 ? offset : Number(low));
      }
    }
    lag[name] = behind;
  }
  return lag;
}

async function endOffsets(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
}

/** A memory figure of `/proc/<pid>/status` in MB (`VmRSS` now, `VmHWM` the peak), 0 if gone. */
function procStatusMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
      readFileSync(`/proc/${pid}/status`, "utf8"),
    )?.[1];
    return Math.round(Number(kb ?? 0) / 1024);
  } catch {
    return 0;
  }
}

function mapValues<T, U>(
  record: Record<string, T>,
  f: (value: T, key: string) => U,
): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v, k)]));
}

function fmt(n: number | undefined, width: number): string {
  return String(n ?? "-").padStart(width);
}
