import { setTimeout as sleep } from "node:timers/promises";
import { paginateScan } from "@aws-sdk/lib-dynamodb";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, describe, expect, it } from "vitest";
import { restartDynamoDb } from "../../../localstack/dynamodb.ts";
import { startLocalPipeline } from "../../../localstack/local-pipeline.ts";
import { stateDir } from "../../../localstack/paths.ts";
import { stopProcess } from "../../../localstack/process.ts";
import { startServers, stopServers, writeState } from "../../../localstack/servers.ts";
import { createDocumentClient } from "../../../shared/dynamodb/client.ts";
import { type AggState, aggregatorFor } from "../../../shared/engine/aggregations.ts";
import { toKafkaJsConfig } from "../../../shared/kafka/connection.ts";
import type { MskEventRecord } from "../../../shared/msk/event.ts";
import { HEADERS } from "../../../shared/usecases/headers.ts";
import { skippedBatches, uniqueName, until } from "../helpers.ts";
import { TopicTail } from "../pipeline/topic-tail.ts";
import {
  expectedResults,
  generateTrace,
  resultTotals,
  type TraceEvent,
} from "../pipeline/trace.ts";
import { lostWindows, reportHardening } from "../report.ts";
import { tracePipeline } from "./trace-pipeline.ts";

// DynamoDB Local of its own, on disk (the shared one runs in memory), stopped mid-run while
// events keep arriving and started again on its database: the window function's invocations fail
// and are retried by the mapping until DynamoDB is back; the results equal Spark's, every event is
// counted once, and no batch is given up on.
const PROFILE = `test-ddb-outage-${process.pid}`;
const DOWN_MS = 3_000;
const trace = generateTrace(1_200, 1);
const expected = expectedResults(trace);
const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const ofKind = (kind: TraceEvent["kind"]) => trace.filter((e) => e.kind === kind);

/** Every window the on-time events open, closed or not: `user|startMs` → sum of amount. */
function expectedState(): Map<string, number> {
  const totals = new Map<string, number>();
  for (const e of ofKind("valid")) {
    const key = `${e.user}|${Math.floor((e.eventTimeMs as number) / 300_000) * 300_000}`;
    totals.set(key, (totals.get(key) ?? 0) + (e.amount as number));
  }
  return totals;
}

describe("DynamoDB going down and coming back", () => {
  it("retries the failed invocations and ends with every event counted once", {
    timeout: 120_000,
  }, async () => {
    // Prepare
    const servers = await startServers({
      profile: PROFILE,
      env: {},
      log: () => {},
      dynamoDbOnDisk: true,
    });
    cleanups.push(() => stopServers(PROFILE));
    const dynamodb = servers.embedded.dynamodb;
    if (!dynamodb) throw new Error("the outage test needs its own embedded DynamoDB Local");
    const name = uniqueName("ddb-outage");
    const pipeline = tracePipeline(name);
    const tableName = uniqueName("state");
    const local = await startLocalPipeline({
      pipeline,
      kafka: servers.kafka,
      dynamoDbEndpoint: servers.dynamoDbEndpoint,
      tableName,
      fromEarliest: true,
      sourcePartitions: 1,
      flushEveryMs: 500,
    });
    cleanups.push(() => local.stop());
    const [, windowRunner] = local.runners;
    const windowStats = () => Object.values(windowRunner?.snapshot() ?? {});
    const windowErrors = () => windowStats().reduce((n, s) => n + s.errors, 0);
    const client = new Kafka(
      toKafkaJsConfig(servers.kafka, uniqueName("ddb-outage"), { logLevel: logLevel.NOTHING }),
    );
    const producer = client.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const produce = (events: readonly TraceEvent[]) =>
      producer.send({
        topic: pipeline.topics.sources[0] as string,
        messages: events.map((e) => ({ value: e.value })),
      });
    const third = trace.length / 3;
    await produce(trace.slice(0, third));
    await until(() => local.totals.window.in > 0, "the window function's first batches");

    // Act: down while events keep arriving, then back on its database file.
    const downAt = Date.now();
    await stopProcess(dynamodb.pid, stateDir(PROFILE));
    await produce(trace.slice(third, 2 * third));
    await until(() => windowErrors() > 0, "a window invocation to fail");
    await sleep(Math.max(0, DOWN_MS - (Date.now() - downAt)));
    const restarted = await restartDynamoDb(stateDir(PROFILE), dynamodb);
    // Recorded, so stopServers (or a later run's orphan reaping) stops the new pid too.
    writeState(PROFILE, { ...servers.embedded, dynamodb: restarted });
    const outageMs = Date.now() - downAt;
    await produce(trace.slice(2 * third));

    // Assess: every result, and a duplicate only as the same bytes.
    const output = new TopicTail(client, pipeline.topics.output);
    await output.start();
    cleanups.push(() => output.stop());
    const records = () => [...output.all().values()].flat() as MskEventRecord[];
    const byResultId = () => {
      const seen = new Map<string, MskEventRecord>();
      for (const record of records()) {
        const header = record.headers.find((h) => HEADERS.resultId in h)?.[HEADERS.resultId];
        const id = Buffer.from(header ?? []).toString();
        const earlier = seen.get(id);
        if (earlier) expect([record.key, record.value]).toEqual([earlier.key, earlier.value]);
        seen.set(id, record);
      }
      return seen;
    };
    await until(() => byResultId().size >= expected.size, "every window result");
    const totals = resultTotals([...byResultId().values()]);
    reportHardening({
      case: "DynamoDB Local down and back",
      faults: `stopped mid-run for ${(outageMs / 1000).toFixed(1)} s, restarted on its file`,
      rounds: 1,
      eventsIn: trace.length,
      resultsOut: records().length,
      lost: lostWindows(expected, totals),
      duplicated: records().length - byResultId().size,
    });
    expect(totals).toEqual(expected);

    // Assess: counts add up; every on-time event counted once (a `duplicate` is an event a failed
    // attempt had already applied before it failed, skipped by its retry).
    const { parse, window } = local.totals;
    await until(() => window.in >= parse.valid && parse.in >= trace.length, "the last batches");
    expect(parse).toMatchObject({
      in: trace.length,
      valid: ofKind("valid").length + ofKind("late").length,
      filtered: ofKind("filtered").length,
      invalid: ofKind("invalid").length,
      deadLetters: { "malformed JSON": ofKind("invalid").length },
    });
    expect(window.in).toBe(parse.valid);
    expect(window.counted + window.duplicates).toBe(ofKind("valid").length);
    expect(window.late).toBe(ofKind("late").length);
    expect(window.invalid).toBe(0);

    // Assess: the state table holds every on-time event exactly once — an invocation that failed
    // during the outage left nothing half-done that its retry did not complete.
    const documents = createDocumentClient(servers.dynamoDbEndpoint);
    const aggregator = aggregatorFor(pipeline.aggregations);
    const state = new Map<string, number | null>();
    for await (const page of paginateScan(
      { client: documents },
      {
        TableName: tableName,
        FilterExpression: "begins_with(pk, :w)",
        ExpressionAttributeValues: { ":w": `w#${name}#` },
      },
    )) {
      for (const item of page.Items ?? []) {
        // One item per bucket of keys and window, `entries` the JSON of their states by key.
        const entries = JSON.parse(item.entries as string) as Record<string, unknown>;
        const startMs = Number(String(item.sk).split("#")[0]);
        for (const [user, aggState] of Object.entries(entries)) {
          state.set(
            `${user}|${startMs}`,
            aggregator.result(aggState as AggState).total_spent ?? null,
          );
        }
      }
    }
    documents.destroy();
    expect(state).toEqual(expectedState());

    // Assess: the mapping retried what failed and gave up on nothing (no on-failure record).
    const retries = windowStats().reduce((n, s) => n + s.retries, 0);
    expect(retries).toBeGreaterThan(0);
    expect(skippedBatches(local.runners)).toBe(0);
    console.log(
      `DynamoDB outage ${(outageMs / 1000).toFixed(1)} s: window invocations failed ${windowErrors()}, ` +
        `retried ${retries}; events skipped as already applied ${window.duplicates}; ` +
        `results ${byResultId().size}, byte-identical duplicates ${records().length - byResultId().size}`,
    );
  });
});
