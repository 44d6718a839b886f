import type { Kafka } from "kafkajs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AWS_RETRY_CAP_WITH_DESTINATION,
  type FailedBatch,
  type MappingConfig,
  retryBackoffMs,
  retryLimit,
} from "../../../localstack/esm/mapping.ts";
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

async function topicWith(
  count: number,
  partitions = 1,
  configEntries: Array<{ name: string; value: string }> = [],
): Promise<string> {
  const topic = uniqueName("esm");
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, configEntries }],
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
  // The MSK event: records grouped by "<topic>-<partition>", key and value base64, headers as byte
  // arrays; BatchSize is the most records per invocation.
  // https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html (example event)
  // https://docs.aws.amazon.com/lambda/latest/dg/msk-esm-parameters.html
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

  // "Maximum retry attempts – … The default is -1 (infinite)."
  // https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
  // "After successful processing, your Kafka topic is committed to your Kafka cluster."
  // https://docs.aws.amazon.com/lambda/latest/dg/with-msk-process.html
  it("retries a failing batch, the same records each time, until it succeeds; commits only then", async () => {
    // Prepare: the batch holding offset 5 fails 15 times (more than AWS's cap with a destination).
    const topic = await topicWith(10);
    const groupId = uniqueName("group");
    const attempts: number[][] = [];
    let failures = 0;
    const commitsWhileFailing: number[][] = [];

    // Act
    const runner = run({
      topics: [topic],
      consumerGroupId: groupId,
      batchSize: 5,
      maxRetryBackoffMs: 40,
      handler: async (e) => {
        const offsets = decodeMskEvent(e).map((r) => r.offset);
        attempts.push(offsets);
        if (offsets.includes(5) && failures < 15) {
          failures++;
          if (failures === 8) commitsWhileFailing.push(await committed(groupId, topic));
          throw new Error("DynamoDB throttled");
        }
      },
    });
    await runner.start();
    await until(() => runner.snapshot()[`${topic}-0`]?.committedOffset === 10);

    // Assess
    const failing = attempts.filter((a) => a.includes(5));
    expect(failing).toHaveLength(16);
    for (const a of failing) expect(a).toEqual([5, 6, 7, 8, 9]);
    expect(commitsWhileFailing).toEqual([[5]]); // the failing batch was not committed past
    expect(runner.snapshot()[`${topic}-0`]).toMatchObject({
      errors: 15,
      retries: 15,
      maxAttempts: 16,
      failedBatches: 0,
    });
    expect(retryLimit(runner.config)).toBe(Number.POSITIVE_INFINITY);
    expect(await committed(groupId, topic)).toEqual([10]);
  });

  // "When you configure both infinite retries and an on-failure destination, Lambda automatically
  // applies a maximum of 10 retry attempts." The pipeline never configures a destination; this
  // models what AWS would then do (skip the batch), to show why.
  // https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
  // https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html
  it("with an on-failure destination, retries 10 times, hands the batch over and commits past it", async () => {
    // Prepare: the batch holding offset 5 always fails.
    const topic = await topicWith(10);
    const groupId = uniqueName("group");
    const attempts: number[][] = [];
    const failures: FailedBatch[] = [];

    // Act
    const runner = run({
      topics: [topic],
      consumerGroupId: groupId,
      batchSize: 5,
      maxRetryBackoffMs: 20,
      onFailure: async (f) => void failures.push(f),
      handler: async (e) => {
        const offsets = decodeMskEvent(e).map((r) => r.offset);
        attempts.push(offsets);
        if (offsets.includes(5)) throw new Error("poison");
      },
    });
    await runner.start();
    await until(() => runner.snapshot()[`${topic}-0`]?.committedOffset === 10);

    // Assess
    expect(retryLimit(runner.config)).toBe(AWS_RETRY_CAP_WITH_DESTINATION);
    expect(attempts.filter((a) => a.includes(5))).toHaveLength(1 + 10);
    expect(failures).toEqual([
      expect.objectContaining({
        topic,
        partition: 0,
        firstOffset: 5,
        lastOffset: 9,
        batchSize: 5,
        attempts: 11,
        error: "Error: poison",
      }),
    ]);
    expect(runner.snapshot()[`${topic}-0`]?.failedBatches).toBe(1);
    expect(await committed(groupId, topic)).toEqual([10]);
  });

  // "Under Event poller configuration, choose Provisioned mode to configure error handling
  // controls" — MaximumRetryAttempts among them.
  // https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
  it("refuses a retry limit without provisioned pollers, naming the setting", () => {
    const config = { topics: ["t"], handler: async () => {}, maximumRetryAttempts: 3 };
    expect(() => run(config)).toThrow(/maximumRetryAttempts needs provisioned pollers/);
    expect(() => run({ ...config, provisionedPollers: true, maximumRetryAttempts: -2 })).toThrow(
      /-1 \(until success\) or 0–10000/,
    );
    expect(retryLimit(config)).toBe(3);
  });

  // AWS does not document the Kafka mapping's backoff; ours grows exponentially to a ceiling.
  it("waits longer before each retry, up to a ceiling", () => {
    const config = { retryBackoffMs: 100, maxRetryBackoffMs: 1_000 };
    expect([1, 2, 3, 4, 5, 6, 50].map((retry) => retryBackoffMs(retry, config))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
    expect(retryBackoffMs(1, {})).toBe(200);
    expect(retryBackoffMs(40, {})).toBe(30_000);
  });

  // "After successful processing, your Kafka topic is committed to your Kafka cluster."
  // https://docs.aws.amazon.com/lambda/latest/dg/with-msk-process.html
  it("does not commit a batch whose handler has not succeeded", async () => {
    // Prepare
    const topic = await topicWith(3);
    const groupId = uniqueName("group");
    let calls = 0;

    // Act: the handler keeps failing; the runner is stopped mid-retry.
    const runner = run({
      topics: [topic],
      consumerGroupId: groupId,
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

  // StartingPosition: AT_TIMESTAMP, TRIM_HORIZON or LATEST.
  // https://docs.aws.amazon.com/lambda/latest/dg/msk-esm-parameters.html
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

  // https://docs.aws.amazon.com/lambda/latest/dg/with-msk-filtering.html
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

  // "Lambda reads messages sequentially for each Kafka topic partition. A single Lambda payload
  // can contain messages from multiple partitions."
  // https://docs.aws.amazon.com/lambda/latest/dg/with-msk-process.html
  it("puts records of several partitions in one payload, each partition in order", async () => {
    // Prepare: 3 partitions, 30 records each, all there before the mapping starts.
    const topic = await topicWith(90, 3);
    const events: MskEvent[] = [];

    // Act
    const runner = run({
      topics: [topic],
      batchSize: 100,
      maximumBatchingWindowMs: 300,
      handler: async (e) => void events.push(e),
    });
    await runner.start();
    await until(() => events.reduce((n, e) => n + decodeMskEvent(e).length, 0) === 90);

    // Assess: some payload mixes partitions; each partition's offsets arrive once, in order.
    expect(events.some((e) => Object.keys(e.records).length > 1)).toBe(true);
    expect(runner.payloads().mixedPayloads).toBeGreaterThan(0);
    for (const partition of [0, 1, 2]) {
      const offsets = events.flatMap((e) =>
        (e.records[`${topic}-${partition}`] ?? []).map((r) => r.offset),
      );
      expect(offsets).toEqual(Array.from({ length: 30 }, (_, i) => i));
    }
  });

  // Batching behavior: Lambda invokes when "the batching window reaches its maximum value" — for
  // Kafka "the default batching window is 500 ms … A batching window begins as soon as the first
  // record arrives" — or "the batch size is met", or the payload reaches 6 MB.
  // https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
  it("gathers for the batching window (500 ms by default) from the first record", async () => {
    // Prepare: an idle topic and a mapping that has joined its group.
    const topic = await topicWith(0);
    const invokedAt: number[] = [];
    const sizes: number[] = [];
    const runner = run({
      topics: [topic],
      maximumBatchingWindowMs: undefined, // AWS's default
      handler: async (e) => {
        invokedAt.push(Date.now());
        sizes.push(decodeMskEvent(e).length);
      },
    });
    await runner.start();
    await new Promise((r) => setTimeout(r, 3_000));

    // Act: three records, one by one (the producer knows the topic already).
    const producer = kafka.producer();
    await producer.connect();
    const send = (n: number) => producer.send({ topic, messages: [{ value: `{"n":${n}}` }] });
    await send(0);
    const firstAckedAt = Date.now();
    await send(1);
    await send(2);
    const lastAckedAt = Date.now();
    await producer.disconnect();
    await until(() => sizes.reduce((a, b) => a + b, 0) === 3);

    // Assess: one invocation with all three, about 500 ms after the first arrived.
    expect(lastAckedAt - firstAckedAt).toBeLessThan(400); // the test's own premise
    expect(sizes).toEqual([3]);
    const waitedMs = (invokedAt[0] as number) - firstAckedAt;
    expect(waitedMs).toBeGreaterThanOrEqual(400);
    expect(waitedMs).toBeLessThan(1_500);
  });

  // Same page: "The batch size is met."
  it("invokes as soon as the batch size is met, without waiting for the window", async () => {
    // Prepare: 120 records; batches of 50 with a 3-second window.
    const topic = await topicWith(0);
    const invocations: Array<{ atMs: number; size: number }> = [];
    const runner = run({
      topics: [topic],
      batchSize: 50,
      maximumBatchingWindowMs: 3_000,
      handler: async (e) =>
        void invocations.push({ atMs: Date.now(), size: decodeMskEvent(e).length }),
    });
    await runner.start();
    await new Promise((r) => setTimeout(r, 3_000));

    // Act
    const sentAt = Date.now();
    await produce(topic, 120);
    await until(() => invocations.reduce((n, i) => n + i.size, 0) === 120);

    // Assess: two full batches at once, the rest when the window ran out.
    expect(invocations.map((i) => i.size)).toEqual([50, 50, 20]);
    const [first, second, last] = invocations.map((i) => i.atMs - sentAt) as [
      number,
      number,
      number,
    ];
    expect(first).toBeLessThan(1_500);
    expect(second).toBeLessThan(1_500);
    expect(last).toBeGreaterThanOrEqual(2_900);
  });

  // The same batching behavior: Lambda also invokes when "the payload size reaches 6 MB. You
  // cannot modify this limit." Since 0.3.0 a repartition record packs hundreds of events, so the
  // window mapping's batches reach this limit before its batch size on a backlog.
  // https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
  it("invokes before the event would pass 6 MB, whatever the batch size", async () => {
    // Prepare: 40 records of 200 KB (about 267 KB each in the event's base64): 10.7 MB in all.
    const topic = await topicWith(0);
    const producer = kafka.producer();
    await producer.connect();
    const value = "x".repeat(200 * 1024);
    for (
      let i = 0;
      i < 40;
      i += 4 // each request under the broker's 1 MB message.max.bytes
    )
      await producer.send({ topic, messages: Array.from({ length: 4 }, () => ({ value })) });
    await producer.disconnect();
    const payloads: Array<{ chars: number; offsets: number[] }> = [];

    // Act
    await run({
      topics: [topic],
      batchSize: 10_000,
      maximumBatchingWindowMs: 3_000, // time to fetch it all: only the size can end a payload
      handler: async (e) =>
        void payloads.push({
          chars: JSON.stringify(e).length,
          offsets: decodeMskEvent(e).map((r) => r.offset),
        }),
    }).start();
    await until(() => payloads.reduce((n, p) => n + p.offsets.length, 0) === 40);

    // Assess: every payload within 6 MB, the first filled near it; every record once, in order.
    const limitBytes = 6 * 1024 * 1024;
    for (const p of payloads) expect(p.chars).toBeLessThanOrEqual(limitBytes);
    expect(payloads[0]?.chars).toBeGreaterThan(limitBytes - 300 * 1024);
    expect(payloads.flatMap((p) => p.offsets)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  // The event's `timestampType` is the record's: LOG_APPEND_TIME (the broker's append time) on a
  // topic with `message.timestamp.type=LogAppendTime`, else CREATE_TIME (the producer's).
  // https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html (example event)
  // https://kafka.apache.org/documentation/#topicconfigs_message.timestamp.type
  it("reports LOG_APPEND_TIME and the broker's time on a LogAppendTime topic", async () => {
    // Prepare: both topics get a record whose producer timestamp is in 2001.
    const logAppend = await topicWith(0, 1, [
      { name: "message.timestamp.type", value: "LogAppendTime" },
    ]);
    const createTime = await topicWith(0);
    const producerTimestampMs = Date.UTC(2001, 0, 1);
    const producer = kafka.producer();
    await producer.connect();
    const sentAtMs = Date.now();
    for (const topic of [logAppend, createTime]) {
      await producer.send({
        topic,
        messages: [{ value: "{}", timestamp: String(producerTimestampMs) }],
      });
    }
    await producer.disconnect();
    const records: MskEvent["records"][string][number][] = [];

    // Act
    for (const topic of [logAppend, createTime]) {
      await run({
        topics: [topic],
        handler: async (e) => void records.push(...Object.values(e.records).flat()),
      }).start();
    }
    await until(() => records.length === 2);

    // Assess
    const byTopic = new Map(records.map((r) => [r.topic, r]));
    expect(byTopic.get(logAppend)?.timestampType).toBe("LOG_APPEND_TIME");
    expect(byTopic.get(logAppend)?.timestamp).toBeGreaterThanOrEqual(sentAtMs - 1_000);
    expect(byTopic.get(createTime)).toMatchObject({
      timestampType: "CREATE_TIME",
      timestamp: producerTimestampMs,
    });
  });

  // "Lambda reads messages sequentially for each Kafka topic partition" with one batch in flight
  // per partition; partitions are processed in parallel.
  // https://docs.aws.amazon.com/lambda/latest/dg/with-msk-process.html
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

  // A partition's retries hold back that partition only (each is read sequentially on its own).
  // https://docs.aws.amazon.com/lambda/latest/dg/with-msk-process.html
  it("lets the other partitions go on while one partition's batch is being retried", async () => {
    // Prepare: partition 0's first batch fails for 2 s.
    const topic = await topicWith(60, 3);
    const startedAt = Date.now();
    const deliveredAt = new Map<number, number>();

    // Act
    const runner = run({
      topics: [topic],
      batchSize: 5,
      maxRetryBackoffMs: 50,
      handler: async (e) => {
        const records = decodeMskEvent(e);
        if (records.some((r) => r.partition === 0) && Date.now() - startedAt < 2_000)
          throw new Error("partition 0 down");
        for (const r of records) deliveredAt.set(r.partition * 1_000 + r.offset, Date.now());
      },
    });
    await runner.start();
    await until(() => deliveredAt.size === 60);

    // Assess: partitions 1 and 2 were done before partition 0's batch got through.
    const lastOf = (p: number) =>
      Math.max(...[...deliveredAt].filter(([k]) => Math.floor(k / 1_000) === p).map(([, t]) => t));
    const firstOf0 = Math.min(...[...deliveredAt].filter(([k]) => k < 1_000).map(([, t]) => t));
    expect(lastOf(1)).toBeLessThan(firstOf0);
    expect(lastOf(2)).toBeLessThan(firstOf0);
  });
});
