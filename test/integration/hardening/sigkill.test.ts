import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDynamoDbClient } from "../../../shared/dynamodb/client.ts";
import type { MskEventRecord } from "../../../shared/msk/event.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { HEADERS } from "../../../shared/usecases/headers.ts";
import { kafkaConnection, testKafka, uniqueName } from "../helpers.ts";
import { TopicTail } from "../pipeline/topic-tail.ts";
import { expectedResults, generateTrace, resultTotals } from "../pipeline/trace.ts";
import { lostWindows, reportHardening } from "../report.ts";

// The pipeline's process killed with SIGKILL at random moments, round after round, then left to
// finish: every result is there and right; a duplicate may appear but only byte-identical.
const ROUNDS = 8;
const trace = generateTrace(1_500, 1);
const expected = expectedResults(trace);
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

function startPipelineProcess(settings: object): ChildProcess {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "pipeline-process.ts")],
    {
      env: { ...process.env, SPARKLESS_TEST_PIPELINE: JSON.stringify(settings) },
      stdio: ["ignore", "ignore", "ignore"],
    },
  );
  children.push(child);
  return child;
}

describe("the pipeline process killed with SIGKILL", () => {
  it(`completes every result correctly after ${ROUNDS} kills`, { timeout: 300_000 }, async () => {
    // Prepare: the whole trace waits on the source topic.
    const name = uniqueName("sigkill");
    const settings = {
      name,
      kafka: kafkaConnection(),
      dynamoDbEndpoint: inject("servers").dynamoDbEndpoint,
      tableName: uniqueName("state"),
    };
    await ensureStateTable(createDynamoDbClient(settings.dynamoDbEndpoint), settings.tableName);
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: `${name}.transactions`, numPartitions: 1 }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: `${name}.transactions`,
      messages: trace.map((e) => ({ value: e.value })),
    });
    await producer.disconnect();

    // Act: kill it at a random moment, ROUNDS times, then let it run.
    let seed = 5;
    for (let round = 0; round < ROUNDS; round++) {
      const child = startPipelineProcess(settings);
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      await sleep(2_000 + (seed % 4_000));
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    const last = startPipelineProcess(settings);

    // Assess
    const output = new TopicTail(kafka, `${name}.out`);
    await output.start();
    const records = () => [...output.all().values()].flat() as MskEventRecord[];
    const byId = () => {
      const seen = new Map<string, MskEventRecord>();
      for (const record of records()) {
        const id = Buffer.from(
          record.headers.find((h) => HEADERS.resultId in h)?.[HEADERS.resultId] ?? [],
        ).toString();
        const earlier = seen.get(id);
        if (earlier)
          expect({ key: record.key, value: record.value }).toEqual({
            key: earlier.key,
            value: earlier.value,
          });
        seen.set(id, record);
      }
      return seen;
    };
    for (let i = 0; i < 1_800 && byId().size < expected.size; i++) await sleep(100);
    last.kill("SIGTERM");
    await output.stop();
    const totals = resultTotals([...byId().values()]);
    reportHardening({
      case: "pipeline process killed (SIGKILL)",
      faults: "SIGKILL at a random moment, 2–6 s into each round",
      rounds: ROUNDS,
      eventsIn: trace.length,
      resultsOut: records().length,
      lost: lostWindows(expected, totals),
      duplicated: records().length - byId().size,
    });
    expect(totals).toEqual(expected);
  });
});
