import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startLocalPipeline } from "../../../localstack/local-pipeline.ts";
import { pipelineGeneration } from "../../../shared/pipeline/generation.ts";
import { definePipeline, type Pipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { kafkaConnection, testKafka, uniqueName, until } from "../helpers.ts";
import { TopicTail } from "./topic-tail.ts";

// One source partition, one repartition partition and no watermark delay: every run sees the
// events in the same order, so nothing is late in one run and on time in another; 10-second
// windows over events one second apart, closed at the end by idleClose.
const T0_MS = Date.UTC(2026, 10, 30, 10);
const EVENTS = 320;
const BOUNDARY = 205; // events 0-204 come before the reprocessed range; 200-209 share a window
const event = (i: number) =>
  JSON.stringify({
    user: `u${i % 4}`,
    action: "buy",
    amount: (i % 7) + 1,
    event_time: new Date(T0_MS + i * 1_000).toISOString(),
  });

let kafka: Kafka;
const base = uniqueName("rep");
const tableName = uniqueName("state");
const stops: Array<() => Promise<void>> = [];

function pipelineOn(name: string, source: string, output: string): Pipeline {
  return definePipeline({
    ...userSpending.definition,
    name,
    source: { ...userSpending.definition.source, topics: [source], batchSize: 50 },
    window: { type: "tumbling", size: "10 seconds" },
    watermark: "0 seconds",
    idleClose: "1 second",
    partitions: 1,
    output: { topic: output },
  });
}

async function produce(topic: string, from: number, to: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  const values = Array.from({ length: to - from }, (_, k) => event(from + k));
  await producer.send({ topic, messages: values.map((value) => ({ value, partition: 0 })) });
  await producer.disconnect();
}

/**
 * Starts a pipeline locally; resolves (once started) to the wait for its `results` results, sorted.
 */
async function run(pipeline: Pipeline, results: number): Promise<() => Promise<string[]>> {
  const local = await startLocalPipeline({
    pipeline,
    kafka: kafkaConnection(),
    dynamoDbEndpoint: inject("servers").dynamoDbEndpoint,
    tableName,
    fromEarliest: false,
    sourcePartitions: 1,
    flushEveryMs: 500,
  });
  stops.push(local.stop);
  const tail = new TopicTail(kafka, pipeline.topics.output);
  await tail.start();
  stops.push(() => tail.stop());
  const out = () =>
    [...tail.all().values()].flat().map((r) => Buffer.from(r.value ?? "", "base64").toString());
  return async () => {
    await until(() => out().length >= results, `${results} results of ${pipeline.name}`, 90_000);
    return out().sort();
  };
}

/** The (user, 10 s window) pairs of events [from, to): one result each. */
const windowsOf = (from: number, to: number) =>
  new Set(
    Array.from({ length: to - from }, (_, k) => `${(from + k) % 4}/${Math.floor((from + k) / 10)}`),
  ).size;

beforeAll(async () => {
  kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [`${base}.src`, `${base}.fresh-src`].map((topic) => ({ topic, numPartitions: 1 })),
    waitForLeaders: true,
  });
  await admin.disconnect();
  await produce(`${base}.src`, 0, EVENTS);
  await produce(`${base}.fresh-src`, BOUNDARY, EVENTS);
});
afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
});

describe("reprocessing a range as a new generation", () => {
  it("gives the same results as a fresh run over the same records, apart from generation 1's state", async () => {
    // GIVEN generation 1 that read everything from the earliest offset
    const generation1 = pipelineOn(base, `${base}.src`, `${base}.out`);
    const firstRun = await run(generation1, windowsOf(0, EVENTS));
    // AND a fresh pipeline over a topic holding only the range's records
    const fresh = pipelineOn(`${base}-fresh`, `${base}.fresh-src`, `${base}.fresh-out`);
    const freshRun = await run(fresh, windowsOf(BOUNDARY, EVENTS));
    const all = await firstRun();

    // WHEN generation 2 reprocesses from the range's first offset into a topic of its own
    const generation2 = pipelineGeneration(generation1, {
      generation: 2,
      startFrom: { offsets: { [`${base}.src`]: { 0: BOUNDARY } } },
      outputTopic: `${base}.rerun`,
    });
    expect(generation2.name).toBe(`${base}-g2`);
    const rerun = await (await run(generation2, windowsOf(BOUNDARY, EVENTS)))();

    // THEN its results are the fresh run's, byte for byte, and none of them are generation 1's
    // results of the window shared across the boundary (that one held events 200-204 too)
    expect(rerun).toEqual(await freshRun());
    expect(rerun).toHaveLength(windowsOf(BOUNDARY, EVENTS));
    expect(all).toHaveLength(windowsOf(0, EVENTS));
    const boundaryStart = `"start":"${new Date(T0_MS + 200_000).toISOString().slice(0, 19)}`;
    const shared = (results: string[]) => results.filter((r) => r.includes(boundaryStart));
    expect(shared(rerun).length).toBeGreaterThan(0);
    expect(shared(rerun)).not.toEqual(shared(all));
  }, 240_000);
});
