import type { TopicMessages } from "kafkajs";
import { encodeRepartitioned } from "../../shared/codec/repartition.ts";
import { createDocumentClient, createDynamoDbClient } from "../../shared/dynamodb/client.ts";
import type { KafkaRecord } from "../../shared/msk/event.ts";
import { definePipeline } from "../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../shared/pipelines/user-spending.ts";
import { DynamoDbWindowStore } from "../../shared/store/dynamodb-window-store.ts";
import { ensureStateTable } from "../../shared/store/table.ts";
import { processWindowBatch } from "../../shared/usecases/window-batch.ts";

/**
 * DynamoDB calls and capacity units per 1,000 events of the window step on DynamoDB Local, for a
 * number of distinct users: events pre-aggregated per (key, window), one conditional write per
 * pair and batch. Event times advance 1 s per event, so windows close as they would live.
 */
export async function benchDynamoDbCost(
  endpoint: string,
  distinctKeys: number,
  events: number,
  batchSize: number,
) {
  const tableName = `bench-${distinctKeys}-${Date.now()}`;
  await ensureStateTable(createDynamoDbClient(endpoint), tableName);
  const pipeline = definePipeline({ ...userSpending.definition, name: `bench-${distinctKeys}` });
  const store = new DynamoDbWindowStore(createDocumentClient(endpoint), tableName);
  const send = async (_: TopicMessages[]) => {};
  const start = Date.UTC(2025, 0, 1);
  const startedAt = Date.now();
  for (let from = 0; from < events; from += batchSize) {
    const records: KafkaRecord[] = [];
    for (let i = from; i < Math.min(from + batchSize, events); i++) {
      const user = `user-${i % distinctKeys}`;
      records.push({
        topic: pipeline.topics.repartition,
        partition: 0,
        offset: i,
        timestampMs: 0,
        key: Buffer.from(user),
        value: Buffer.from(
          encodeRepartitioned({
            groupKey: user,
            eventTimeMs: start + i * 1_000,
            row: { amount: 1.5 },
            source: "transactions/0",
            sourceOffset: i,
          }),
        ),
        headers: [],
      });
    }
    await processWindowBatch(records, { pipeline, store, send, nowMs: Date.now });
  }
  const per1000 = 1000 / events;
  return {
    distinctKeys,
    events,
    batchSize,
    callsPer1000: store.stats.calls * per1000,
    writeUnitsPer1000: store.stats.writeCapacityUnits * per1000,
    readUnitsPer1000: store.stats.readCapacityUnits * per1000,
    seconds: (Date.now() - startedAt) / 1000,
  };
}
