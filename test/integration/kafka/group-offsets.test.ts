import type { Admin, Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSourceMappingRunner } from "../../../localstack/esm/runner.ts";
import { KafkaConfigurationError } from "../../../shared/kafka/errors.ts";
import { applyStartingOffsets } from "../../../shared/kafka/group-offsets.ts";
import { decodeMskEvent } from "../../../shared/msk/event.ts";
import { kafkaConnection, testKafka, uniqueName, until } from "../helpers.ts";

let kafka: Kafka;
let admin: Admin;
let topic: string;

// Three partitions with offsets 0-9 each.
beforeAll(async () => {
  kafka = testKafka();
  admin = kafka.admin();
  await admin.connect();
  topic = uniqueName("offsets");
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await produce(10, 0);
});
afterAll(async () => {
  await admin.disconnect();
});

async function produce(perPartition: number, from: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: [0, 1, 2].flatMap((partition) =>
      Array.from({ length: perPartition }, (_, i) => ({
        partition,
        value: JSON.stringify({ partition, n: from + i }),
      })),
    ),
  });
  await producer.disconnect();
}

describe("applyStartingOffsets on the real broker", () => {
  it("makes a mapping's first batch start exactly at the given offsets (-2 earliest, -1 latest)", async () => {
    // GIVEN a new group with Spark's offsets JSON committed before the mapping starts
    const groupId = uniqueName("group");
    const result = await applyStartingOffsets(admin, groupId, {
      [topic]: { "0": 4, "1": -2, "2": -1 },
    });
    expect(result).toEqual({
      groupId,
      outcome: "set",
      offsets: { [topic]: { 0: 4, 1: 0, 2: 10 } },
    });

    // WHEN a mapping that would otherwise start at LATEST runs on that group
    const first = new Map<number, number>();
    const runner = new EventSourceMappingRunner(kafkaConnection(), {
      name: "offsets",
      topics: [topic],
      consumerGroupId: groupId,
      startingPosition: "LATEST",
      maximumBatchingWindowMs: 50,
      handler: async (event) => {
        for (const record of decodeMskEvent(event))
          if (!first.has(record.partition)) first.set(record.partition, record.offset);
      },
    });
    await runner.start();
    await produce(1, 10); // partition 2 starts at its end: give it a record
    await until(() => first.size === 3, "a record from each partition", 30_000);
    await runner.stop();

    // THEN each partition's first record is the one asked for
    expect(Object.fromEntries(first)).toEqual({ 0: 4, 1: 0, 2: 10 });

    // AND applying again keeps the group's committed offsets (a restart never rewinds)
    const again = await applyStartingOffsets(admin, groupId, { [topic]: { 0: 0, 1: 0, 2: 0 } });
    expect(again.outcome).toBe("kept");
  });

  it.each([
    [{ "no-such-topic-x": { 0: 1 } }, "the cluster does not have: no-such-topic-x"],
    [{ TOPIC: { 0: 1, 1: 1, 2: 1, 7: 1 } }, "has no partition 7 (it has 0-2)"],
    [{ TOPIC: { 0: 1, 2: 1 } }, "partition(s) 1 not given"],
  ])("refuses %j before touching the group", async (given, message) => {
    const offsets = JSON.parse(JSON.stringify(given).replace("TOPIC", topic));
    const groupId = uniqueName("group");
    await expect(applyStartingOffsets(admin, groupId, offsets)).rejects.toThrow(
      KafkaConfigurationError,
    );
    await expect(applyStartingOffsets(admin, groupId, offsets)).rejects.toThrow(message);
  });

  it("refuses a group that has members and no committed offsets", async () => {
    const groupId = uniqueName("group");
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
    });
    await consumer.run({ autoCommit: false, eachMessage: async () => undefined });
    try {
      await until(() => joined, "the consumer to join", 30_000);
      await expect(
        applyStartingOffsets(admin, groupId, { [topic]: { 0: 1, 1: 1, 2: 1 } }),
      ).rejects.toThrow(/has 1 member\(s\) and no committed offsets/);
    } finally {
      await consumer.disconnect();
    }
  });
});
