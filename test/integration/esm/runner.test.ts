import type { Kafka } from "kafkajs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FailedBatch, MappingConfig } from "../../../localstack/esm/mapping.ts";
import { EventSourceMappingRunner } from "../../../localstack/esm/runner.ts";
import { decodeMskEvent, type MskEvent } from "../../../shared/msk/event.ts";
import { kafkaConnection, testKafka, uniqueName } from "../helpers.ts";

let kafka: Kafka;
const runners: EventSourceMappingRunner[] = [];

beforeAll(() => {
  kafka = testKafka();
});
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});

async function topicWith(count: number, partitions = 1): Promise<string> {
  const topic = uniqueName("esm");
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions }],
    waitForLeaders: true,
  });
  await admin.disconnect();
  await produce(topic, count, partitions);
  return topic;
}

async function produce(topic: string, count: number, partitions = 1, from = 0): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: Array.from({ length: count }, (_, i) => ({
      key: `k${from + i}`,
      value: JSON.stringify({ n: from + i }),
      partition: (from + i) % partitions,
      headers: { h: "v" },
    })),
  });
  await producer.disconnect();
}

function run(config: Partial<MappingConfig> & Pick<MappingConfig, "topics" | "handler">) {
  const runner = new EventSourceMappingRunner(kafkaConnection(), {
    name: "test",
    consumerGroupId: uniqueName("group"),
    startingPosition: "TRIM_HORIZON",
    maximumBatchingWindowMs: 50,
    retryBackoffMs: 10,
    ...config,
  });
  runners.push(runner);
  return runner;
}

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function committed(groupId: string, topic: string): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  return (offsets?.partitions ?? [])
    .sort((a, b) => a.partition - b.partition)
    .map((p) => Number(p.offset));
}

describe("the local event-source-mapping runner", () => {
  it("invokes with AWS's event shape and never more than batchSize records", async () => {
    // Prepare
    const topic = await topicWith(250);
    const events: MskEvent[] = [];

    // Act
    const runner = run({
      topics: [topic],
      batchSize: 40,
      handler: async (e) => void events.push(e),
    });
    await runner.start();
    await until(() => events.reduce((n, e) => n + decodeMskEvent(e).length, 0) === 250);

    // Assess
    const sizes = events.map((e) => decodeMskEvent(e).length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(40);
    const first = events[0]?.records[`${topic}-0`]?.[0];
    expect(events[0]).toMatchObject({
      eventSource: "SelfManagedKafka",
      bootstrapServers: kafkaConnection().brokers.join(","),
    });
    expect(first).toMatchObject({
      topic,
      partition: 0,
      offset: 0,
      timestampType: "CREATE_TIME",
      headers: [{ h: [118] }],
    });
    expect(Buffer.from(first?.key ?? "", "base64").toString()).toBe("k0");
    expect(JSON.parse(Buffer.from(first?.value ?? "", "base64").toString())).toEqual({ n: 0 });
    const offsets = events.flatMap((e) => decodeMskEvent(e).map((r) => r.offset));
    expect(offsets).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });

  it("commits only after the handler succeeded, retries the same records, then hands them to the on-failure destination", async () => {
    // Prepare: the batch holding offset 5 always fails.
    const topic = await topicWith(10);
    const groupId = uniqueName("group");
    const attempts: number[][] = [];
    const failures: FailedBatch[] = [];
    let done = 0;

    // Act
    const runner = run({
      topics: [topic],
      consumerGroupId: groupId,
      batchSize: 5,
      maximumRetryAttempts: 2,
      onFailure: async (f) => void failures.push(f),
      handler: async (e) => {
        const offsets = decodeMskEvent(e).map((r) => r.offset);
        attempts.push(offsets);
        if (offsets.includes(5)) throw new Error("poison");
        done += offsets.length;
      },
    });
    await runner.start();
    await until(() => failures.length === 1 && done === 5);
    await until(() => runner.snapshot()[`${topic}-0`]?.committedOffset === 10);

    // Assess
    const failing = attempts.filter((a) => a.includes(5));
    expect(failing).toEqual([
      [5, 6, 7, 8, 9],
      [5, 6, 7, 8, 9],
      [5, 6, 7, 8, 9],
    ]);
    expect(failures[0]).toMatchObject({
      topic,
      partition: 0,
      firstOffset: 5,
      lastOffset: 9,
      attempts: 3,
      error: "Error: poison",
    });
    expect(await committed(groupId, topic)).toEqual([10]);
  });

  it("does not commit a batch whose handler has not succeeded", async () => {
    // Prepare
    const topic = await topicWith(3);
    const groupId = uniqueName("group");
    let calls = 0;

    // Act: the handler keeps failing; the runner is stopped mid-retry.
    const runner = run({
      topics: [topic],
      consumerGroupId: groupId,
      maximumRetryAttempts: 1_000,
      handler: async () => {
        calls++;
        throw new Error("down");
      },
    });
    await runner.start();
    await until(() => calls >= 3);
    await runner.stop();

    // Assess
    expect(await committed(groupId, topic)).toEqual([-1]);
  });

  it("starts from the end with LATEST and at a time with AT_TIMESTAMP, when the group has no offsets", async () => {
    // Prepare: 5 old records, then a time mark, then 5 new ones.
    const topic = await topicWith(5);
    await new Promise((r) => setTimeout(r, 50));
    const mark = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    const latest: number[] = [];
    const atTime: number[] = [];

    // Act
    await run({
      topics: [topic],
      startingPosition: "LATEST",
      handler: async (e) => void latest.push(...decodeMskEvent(e).map((r) => r.offset)),
    }).start();
    await run({
      topics: [topic],
      startingPosition: { timestampMs: mark },
      handler: async (e) => void atTime.push(...decodeMskEvent(e).map((r) => r.offset)),
    }).start();
    await new Promise((r) => setTimeout(r, 3_000)); // the groups have joined and read nothing yet
    await produce(topic, 5, 1, 5);
    await until(() => latest.length === 5 && atTime.length === 5);

    // Assess
    expect(latest).toEqual([5, 6, 7, 8, 9]);
    expect(atTime).toEqual([5, 6, 7, 8, 9]);
  });

  it("applies filter criteria: non-matching records are committed without an invocation", async () => {
    // Prepare: values {"n": 0..19}; keep n >= 15.
    const topic = await topicWith(20);
    const groupId = uniqueName("group");
    const seen: number[] = [];

    // Act
    const runner = run({
      topics: [topic],
      consumerGroupId: groupId,
      filterCriteria: {
        Filters: [{ Pattern: JSON.stringify({ value: { n: [{ numeric: [">=", 15] }] } }) }],
      },
      handler: async (e) =>
        void seen.push(...decodeMskEvent(e).map((r) => JSON.parse(String(r.value)).n as number)),
    });
    await runner.start();
    await until(() => runner.snapshot()[`${topic}-0`]?.committedOffset === 20);

    // Assess
    expect(seen).toEqual([15, 16, 17, 18, 19]);
    expect(runner.snapshot()[`${topic}-0`]?.filteredOut).toBe(15);
  });

  it("keeps one invocation in flight per partition while partitions run in parallel", async () => {
    // Prepare
    const topic = await topicWith(120, 3);
    let running = 0;
    let maxRunning = 0;
    let seen = 0;

    // Act
    const runner = run({
      topics: [topic],
      batchSize: 10,
      handler: async (e) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 30));
        seen += decodeMskEvent(e).length;
        running--;
      },
    });
    await runner.start();
    await until(() => seen === 120);

    // Assess
    const stats = Object.values(runner.snapshot());
    expect(stats).toHaveLength(3);
    for (const s of stats) expect(s.maxInFlight).toBe(1);
    expect(maxRunning).toBeGreaterThan(1);
  });
});
