import type { Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startLocalPipeline } from "../../../localstack/local-pipeline.ts";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { kafkaConnection, testKafka, uniqueName, until } from "../helpers.ts";

let kafka: Kafka;
const base = uniqueName("pat");
const stops: Array<() => Promise<void>> = [];

async function createAndFill(topic: string, count: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: Array.from({ length: count }, (_, i) => ({
      value: JSON.stringify({
        user: `u${i % 3}`,
        action: "buy",
        amount: 1,
        event_time: new Date(Date.UTC(2026, 10, 30, 10) + i * 1_000).toISOString(),
      }),
    })),
  });
  await producer.disconnect();
}

beforeAll(async () => {
  kafka = testKafka();
  await createAndFill(`${base}-events-a`, 30);
  await createAndFill(`${base}-other`, 11);
});
afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
});

describe("a pattern source run locally", () => {
  it("maps a topic created while the pipeline runs and counts its events, each topic with its own group", async () => {
    // GIVEN a pipeline subscribed to `<base>-events-.*`, running, re-listing topics every second
    const pipeline = definePipeline({
      ...userSpending.definition,
      name: base,
      source: { topicPattern: `${base}-events-.*`, startingPosition: "earliest" },
      output: { topic: `${base}.out` },
    });
    const local = await startLocalPipeline({
      pipeline,
      kafka: kafkaConnection(),
      dynamoDbEndpoint: inject("servers").dynamoDbEndpoint,
      tableName: uniqueName("state"),
      fromEarliest: false,
      patternRefreshMs: 1_000,
    });
    stops.push(local.stop);
    await until(() => local.totals.parse.in === 30, "the first topic's 30 events");

    // WHEN a matching topic is created (and a non-matching one was there all along)
    await createAndFill(`${base}-events-b`, 17);

    // THEN its events are read from its earliest offset, by a mapping of its own
    await until(() => local.totals.parse.in === 47, "the new topic's 17 events", 30_000);
    const groups = local.runners
      .filter((r) => r.config.name === "parse-filter")
      .map((r) => [r.config.topics, r.config.consumerGroupId]);
    expect(groups).toEqual([
      [[`${base}-events-a`], `sparkless-${base}-parse-filter-${base}-events-a`],
      [[`${base}-events-b`], `sparkless-${base}-parse-filter-${base}-events-b`],
    ]);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(local.totals.parse.in).toBe(47); // nothing from `<base>-other`
  }, 120_000);
});
