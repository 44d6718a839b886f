import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Consumer, Kafka, logLevel } from "kafkajs";
import type { Servers } from "../../../localstack/servers.ts";
import { toKafkaJsConfig } from "../../../shared/kafka/connection.ts";
import type { BenchEvent } from "./events.ts";

export const benchKafka = (servers: Servers) =>
  new Kafka(toKafkaJsConfig(servers.kafka, "sparkless-bench-e2e", { logLevel: logLevel.ERROR }));

/**
 * Creates topics whose records carry the broker's clock (LogAppendTime), so an input record and
 * a result can be compared whoever produced them.
 */
export async function createTopics(
  kafka: Kafka,
  topics: ReadonlyArray<{ topic: string; partitions: number }>,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map(({ topic, partitions }) => ({
        topic,
        numPartitions: partitions,
        replicationFactor: 1,
        configEntries: [{ name: "message.timestamp.type", value: "LogAppendTime" }],
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** Sum of the partitions' high watermarks: how many records a topic holds. */
export async function topicSize(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Produces events in order, each to its own partition, in large batches. */
export async function produceAll(kafka: Kafka, topic: string, events: readonly BenchEvent[]) {
  // Idempotent: kafkajs re-sends a whole request when one partition of it fails (a leader not yet
  // elected after topic creation), which would otherwise put part of the trace in twice.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < events.length; i += 5_000) {
      const messages = events
        .slice(i, i + 5_000)
        .map((e) => ({ partition: e.partition, value: e.value }));
      await producer.send({ topic, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * Produces `eventAt(0) … eventAt(count - 1)` at a fixed rate, in small sends every 20 ms
 * (catching up if a send was slow). Returns what it produced.
 */
export async function produceAtRate(
  kafka: Kafka,
  topic: string,
  eventAt: (i: number) => BenchEvent,
  count: number,
  eventsPerSec: number,
): Promise<BenchEvent[]> {
  const producer = kafka.producer();
  await producer.connect();
  const sent: BenchEvent[] = [];
  try {
    const startMs = Date.now();
    while (sent.length < count) {
      const due = Math.min(count, Math.floor(((Date.now() - startMs) / 1000) * eventsPerSec));
      const batch: BenchEvent[] = [];
      while (sent.length + batch.length < due) batch.push(eventAt(sent.length + batch.length));
      if (batch.length > 0) {
        await producer.send({
          topic,
          messages: batch.map((e) => ({ partition: e.partition, value: e.value })),
        });
        sent.push(...batch);
      }
      await sleep(20);
    }
  } finally {
    await producer.disconnect();
  }
  return sent;
}

/** A record as read back, with the broker's timestamp (LogAppendTime on the bench's topics). */
export interface ReadRecord {
  readonly brokerMs: number;
  readonly value: string;
}

/** Reads a topic from the beginning in the background, keeping every record. */
export class TopicReader {
  readonly records: ReadRecord[] = [];
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
  ) {}

  async start(): Promise<void> {
    this.consumer = this.kafka.consumer({
      groupId: `bench-reader-${randomBytes(4).toString("hex")}`,
      maxWaitTimeInMs: 50,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        this.records.push({
          brokerMs: Number(message.timestamp),
          value: message.value?.toString() ?? "",
        });
      },
    });
  }

  /** Waits until `done()` holds; false when `timeoutMs` passed first. */
  async waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/** Every record of a topic, read to its current end. */
export async function readAll(kafka: Kafka, topic: string): Promise<ReadRecord[]> {
  const size = await topicSize(kafka, topic);
  const reader = new TopicReader(kafka, topic);
  await reader.start();
  try {
    if (!(await reader.waitFor(() => reader.records.length >= size, 60_000)))
      throw new Error(`read ${reader.records.length} of ${size} records of ${topic}`);
    return reader.records;
  } finally {
    await reader.stop();
  }
}
