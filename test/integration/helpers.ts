import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Kafka, type KafkaConfig } from "kafkajs";
import { inject } from "vitest";
import type { EventSourceMappingRunner } from "../../localstack/esm/runner.ts";
import { createDocumentClient, createDynamoDbClient } from "../../shared/dynamodb/client.ts";
import { type KafkaConnection, toKafkaJsConfig } from "../../shared/kafka/connection.ts";

/** A name no other test uses, so tests share the servers without sharing topics or tables. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** The connection the global setup established (embedded or external). */
export function kafkaConnection(): KafkaConnection {
  return inject("servers").kafka;
}

/** A kafkajs client on the test Kafka, optionally with settings changed. */
export function testKafka(overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka(toKafkaJsConfig(kafkaConnection(), uniqueName("test"), overrides));
}

export const testDynamoDb = () => createDynamoDbClient(inject("servers").dynamoDbEndpoint);
export const testDocumentClient = () => createDocumentClient(inject("servers").dynamoDbEndpoint);

/** Polls `condition` every 100 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function until(
  condition: () => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Batches the runners skipped past (only a retry cap or destination allows it; must stay 0). */
export function skippedBatches(runners: ReadonlyArray<EventSourceMappingRunner>): number {
  let skipped = 0;
  for (const runner of runners)
    for (const stats of Object.values(runner.snapshot())) skipped += stats.failedBatches;
  return skipped;
}
