import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { TopicMessages } from "kafkajs";
import { createDocumentClient, createDynamoDbClient } from "../../shared/dynamodb/client.ts";
import { windowsFor } from "../../shared/engine/windows.ts";
import type { KafkaRecord } from "../../shared/msk/event.ts";
import { definePipeline } from "../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../shared/pipelines/user-spending.ts";
import { DynamoDbWindowStore } from "../../shared/store/dynamodb-window-store.ts";
import { ensureStateTable } from "../../shared/store/table.ts";
import { processWindowBatch } from "../../shared/usecases/window-batch.ts";
import { repartitionRecord } from "../fixtures/repartition-records.ts";

export interface CostSettings {
  readonly distinctKeys: number;
  /** Events through our window step (enough to close several windows). */
  readonly events: number;
  /** Events through the naive design: its cost per event is flat, so fewer suffice. */
  readonly naiveEvents: number;
  readonly batchSize: number;
  /** How fast event time advances: the stream's rate, which sets how many events a window holds. */
  readonly eventsPerSecOfEventTime: number;
}

export interface DesignCost {
  readonly events: number;
  readonly callsPer1000: number;
  readonly writeUnitsPer1000: number;
  readonly readUnitsPer1000: number;
  /** Wall time of the window step per batch against DynamoDB Local (no Kafka I/O). */
  readonly msPerBatch: number;
}

const START_MS = Date.UTC(2025, 0, 1);

function event(i: number, settings: CostSettings) {
  const user = `user-${(i * 7_919) % settings.distinctKeys}`;
  const eventTimeMs = START_MS + Math.floor((i * 1_000) / settings.eventsPerSecOfEventTime);
  return { user, eventTimeMs, amount: 1.5 + (i % 7) };
}

/**
 * DynamoDB calls and capacity units per 1,000 events of the window step on DynamoDB Local, for
 * one repartition partition: ours (pre-aggregated per key and window into `stateBuckets` shard
 * items, one conditional write per shard touched per batch, windows closed as the watermark
 * passes), against the naive design that writes once per event (an `ADD` to the (user, window)
 * item, without even the exactly-once bookkeeping or the closing reads).
 */
export async function benchDynamoDbCost(endpoint: string, settings: CostSettings) {
  const tableName = `bench-${settings.distinctKeys}-${Date.now()}`;
  await ensureStateTable(createDynamoDbClient(endpoint), tableName);
  const documents = createDocumentClient(endpoint);
  return {
    ...settings,
    stateBuckets: userSpending.stateBuckets,
    ours: await ours(documents, tableName, settings),
    naive: await naive(documents, tableName, settings),
  };
}

async function ours(
  documents: ReturnType<typeof createDocumentClient>,
  tableName: string,
  settings: CostSettings,
): Promise<DesignCost> {
  const pipeline = definePipeline({
    ...userSpending.definition,
    name: `bench-${settings.distinctKeys}`,
  });
  const store = new DynamoDbWindowStore(documents, tableName);
  const send = async (_: TopicMessages[]) => {};
  let batches = 0;
  const startedAt = process.hrtime.bigint();
  for (let from = 0; from < settings.events; from += settings.batchSize) {
    const records: KafkaRecord[] = [];
    for (let i = from; i < Math.min(from + settings.batchSize, settings.events); i++) {
      const { user, eventTimeMs, amount } = event(i, settings);
      records.push(
        repartitionRecord(pipeline, {
          groupKey: user,
          eventTimeMs,
          row: { amount },
          source: "transactions/0",
          sourceOffset: i,
        }),
      );
    }
    await processWindowBatch(records, { pipeline, store, send, nowMs: Date.now });
    batches++;
  }
  const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
  return per1000(settings.events, store.stats, ms / batches);
}

async function naive(
  documents: ReturnType<typeof createDocumentClient>,
  tableName: string,
  settings: CostSettings,
): Promise<DesignCost> {
  const stats = { calls: 0, readCapacityUnits: 0, writeCapacityUnits: 0 };
  const startedAt = process.hrtime.bigint();
  for (let i = 0; i < settings.naiveEvents; i++) {
    const { user, eventTimeMs, amount } = event(i, settings);
    const [window] = windowsFor(eventTimeMs, userSpending.windowSizeMs, userSpending.windowSlideMs);
    const answer = await documents.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: `naive#${user}`, sk: `${window?.startMs}#${window?.endMs}` },
        UpdateExpression: "ADD total_spent :amount",
        ExpressionAttributeValues: { ":amount": amount },
        ReturnConsumedCapacity: "TOTAL",
      }),
    );
    stats.calls++;
    stats.writeCapacityUnits += answer.ConsumedCapacity?.CapacityUnits ?? 0;
  }
  const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
  return per1000(settings.naiveEvents, stats, (ms * settings.batchSize) / settings.naiveEvents);
}

function per1000(
  events: number,
  stats: { calls: number; readCapacityUnits: number; writeCapacityUnits: number },
  msPerBatch: number,
): DesignCost {
  const scale = 1000 / events;
  return {
    events,
    callsPer1000: stats.calls * scale,
    writeUnitsPer1000: stats.writeCapacityUnits * scale,
    readUnitsPer1000: stats.readCapacityUnits * scale,
    msPerBatch,
  };
}
