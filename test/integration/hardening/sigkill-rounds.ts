// The pipeline's process killed with SIGKILL at random moments, round after round, then left to
// finish: every result must be there and right, a duplicate only byte-identical. One
// implementation for `npm test` (a few rounds) and `npm run soak -- --sigkill <rounds>`.
import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { Kafka, logLevel } from "kafkajs";
import { createDynamoDbClient } from "../../../shared/dynamodb/client.ts";
import { type KafkaConnection, toKafkaJsConfig } from "../../../shared/kafka/connection.ts";
import type { MskEventRecord } from "../../../shared/msk/event.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { uniqueName } from "../helpers.ts";
import { TopicTail } from "../pipeline/topic-tail.ts";
import { expectedResults, generateTrace, resultTotals } from "../pipeline/trace.ts";
import { type HardeningRow, lostWindows, resultsById } from "../report.ts";
import type { PipelineProcessReport, PipelineProcessSettings } from "./pipeline-process.ts";

export interface SigkillRoundsOptions {
  readonly rounds: number;
  readonly kafka: KafkaConnection;
  readonly dynamoDbEndpoint: string | undefined;
  /** Trace events produced before each round (so every round has work). */
  readonly eventsPerRound: number;
  /** The kill comes at a random moment up to this long after the process began invoking. */
  readonly maxKillDelayMs: number;
  /** How long the group waits for a killed process's partitions. @default 6000 (Kafka's minimum) */
  readonly sessionTimeoutMs?: number;
  /** How long the last run may take to produce every result. @default 300000 */
  readonly finishTimeoutMs?: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
  /** A file the processes' stderr is appended to (else it is dropped). */
  readonly processLog?: string;
}

export interface SigkillOutcome {
  readonly row: HardeningRow;
  readonly expected: ReadonlyMap<string, number>;
  readonly actual: ReadonlyMap<string, number>;
  /** Rounds whose process was killed after it had begun invoking the functions. */
  readonly killedWhileWorking: number;
  /** Processes that exited by themselves (a crash: must be 0), the last run included. */
  readonly crashed: number;
  /** Source events the killed processes had handed to the parse function (their last report). */
  readonly parsedByKilled: number;
  /** Milliseconds from a process's start to its first invocation: median and max. */
  readonly firstInvocationMs: { readonly median: number; readonly max: number };
  readonly roundsMs: number;
  readonly finishMs: number;
}

export async function runSigkillRounds(options: SigkillRoundsOptions): Promise<SigkillOutcome> {
  const log = options.log ?? (() => {});
  const trace = generateTrace(options.rounds * options.eventsPerRound, 1);
  const expected = expectedResults(trace);
  const name = uniqueName("sigkill");
  const settings: PipelineProcessSettings = {
    name,
    kafka: options.kafka,
    dynamoDbEndpoint: options.dynamoDbEndpoint,
    tableName: uniqueName("state"),
    sessionTimeoutMs: options.sessionTimeoutMs ?? 6_000,
  };
  const dynamodb = createDynamoDbClient(options.dynamoDbEndpoint);
  await ensureStateTable(dynamodb, settings.tableName);
  dynamodb.destroy();
  const kafka = new Kafka(
    toKafkaJsConfig(options.kafka, uniqueName("sigkill"), { logLevel: logLevel.NOTHING }),
  );
  const source = `${name}.transactions`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: source, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const children = new Set<ChildProcess>();
  let seed = options.seed ?? 5;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const output = new TopicTail(kafka, `${name}.out`);
  try {
    // Act: each round produces its share of the trace, starts the process, waits until it
    // invokes, and kills it at a random moment after.
    const roundsStartedMs = Date.now();
    let killedWhileWorking = 0;
    let crashed = 0;
    let parsedByKilled = 0;
    const firstInvocation: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const from = round * options.eventsPerRound;
      await producer.send({
        topic: source,
        messages: trace.slice(from, from + options.eventsPerRound).map((e) => ({ value: e.value })),
      });
      const child = startPipelineProcess(settings, children, options.processLog);
      const startedMs = Date.now();
      const working = await child.invoking(60_000);
      if (working) {
        killedWhileWorking++;
        firstInvocation.push(Date.now() - startedMs);
      }
      await sleep(Math.floor(random() * options.maxKillDelayMs));
      const crash = child.process.exitCode;
      if (crash !== null) crashed++;
      child.process.kill("SIGKILL");
      await child.exited;
      parsedByKilled += child.latest()?.parseIn ?? 0;
      log(
        `round ${round + 1}/${options.rounds}: killed ${((Date.now() - startedMs) / 1000).toFixed(1)} s after start` +
          `${working ? "" : " (before it invoked)"}${crash === null ? "" : ` — it had exited by itself with code ${crash}`}, it had parsed ${child.latest()?.parseIn ?? 0} and windowed ${child.latest()?.windowIn ?? 0}`,
      );
    }
    const roundsMs = Date.now() - roundsStartedMs;

    // The last run: left to finish.
    const finishStartedMs = Date.now();
    const last = startPipelineProcess(settings, children, options.processLog);
    await output.start();
    const records = () => [...output.all().values()].flat() as MskEventRecord[];
    const deadline = Date.now() + (options.finishTimeoutMs ?? 300_000);
    while (resultsById(records()).size < expected.size && Date.now() < deadline) {
      if (last.process.exitCode !== null) {
        crashed++;
        log(`the last run exited by itself with code ${last.process.exitCode}`);
        break;
      }
      await sleep(200);
    }
    const finishMs = Date.now() - finishStartedMs;
    const byId = resultsById(records());
    const actual = resultTotals([...byId.values()]);
    const sorted = [...firstInvocation].sort((a, b) => a - b);
    return {
      row: {
        case: "pipeline process killed (SIGKILL)",
        faults: `SIGKILL at a random moment up to ${options.maxKillDelayMs / 1000} s after the process began invoking (${killedWhileWorking} of ${options.rounds} rounds), ${options.eventsPerRound} events produced per round`,
        rounds: options.rounds,
        eventsIn: trace.length,
        resultsOut: records().length,
        lost: lostWindows(expected, actual),
        duplicated: records().length - byId.size,
      },
      expected,
      actual,
      killedWhileWorking,
      crashed,
      parsedByKilled,
      firstInvocationMs: {
        median: sorted[Math.floor(sorted.length / 2)] ?? 0,
        max: sorted[sorted.length - 1] ?? 0,
      },
      roundsMs,
      finishMs,
    };
  } finally {
    for (const child of children) child.kill("SIGKILL");
    await output.stop().catch(() => undefined);
    await producer.disconnect();
  }
}

/** Starts pipeline-process.ts and follows its reports. */
function startPipelineProcess(
  settings: PipelineProcessSettings,
  children: Set<ChildProcess>,
  stderrFile: string | undefined,
) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "pipeline-process.ts")],
    {
      env: { ...process.env, SPARKLESS_TEST_PIPELINE: JSON.stringify(settings) },
      stdio: ["ignore", "pipe", stderrFile ? openSync(stderrFile, "a") : "ignore"],
    },
  );
  children.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      children.delete(child);
      resolve();
    }),
  );
  let latest: PipelineProcessReport | undefined;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    if (line.startsWith("{")) latest = JSON.parse(line) as PipelineProcessReport;
  });
  return {
    process: child,
    exited,
    latest: () => latest,
    /** Resolves true once the process invoked a function, false after `timeoutMs` or its exit. */
    async invoking(timeoutMs: number): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && child.exitCode === null) {
        if ((latest?.invocations ?? 0) > 0) return true;
        await sleep(20);
      }
      return false;
    },
  };
}
