import { setTimeout as sleep } from "node:timers/promises";
import { type Admin, type Consumer, Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { type KafkaConnection, toKafkaJsConfig } from "../../shared/kafka/connection.ts";
import { encodeMskRecord, type MskEvent } from "../../shared/msk/event.ts";
import { compileFilterCriteria } from "./filter-criteria.ts";
import { emptyPartitionStats, type MappingConfig, type PartitionStats } from "./mapping.ts";

const MAX_BACKOFF_MS = 30_000;

/**
 * Runs one event-source mapping locally, the way Lambda's Kafka mapping behaves: a consumer group,
 * batches of at most `batchSize` gathered for up to the batching window, the event in AWS's shape,
 * one invocation in flight per partition (partitions in parallel), offsets committed only after
 * the handler succeeded, a failing batch retried with backoff and then handed to the on-failure
 * destination. No pipeline logic lives here: it calls the real handlers.
 */
export class EventSourceMappingRunner {
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  private stopping = false;
  private readonly stats = new Map<string, PartitionStats>();
  private readonly keep: ((message: KafkaMessage) => boolean) | undefined;

  constructor(
    private readonly connection: KafkaConnection,
    readonly config: MappingConfig,
    private readonly concurrency = 8,
  ) {
    this.kafka = new Kafka(
      toKafkaJsConfig(connection, `esm-${config.name}`, { logLevel: logLevel.ERROR }),
    );
    if (config.filterCriteria) {
      const matches = compileFilterCriteria(config.filterCriteria);
      this.keep = (m) => matches({ value: m.value?.toString("utf8") ?? null });
    }
  }

  async start(): Promise<void> {
    const { config } = this;
    const batchingWindowMs = config.maximumBatchingWindowMs ?? 500;
    const consumer = this.kafka.consumer({
      groupId: config.consumerGroupId,
      // The broker holds a fetch until 1 MB is there or the batching window has passed: Lambda's
      // "gather records for up to MaximumBatchingWindowInSeconds", at the fetch level.
      maxWaitTimeInMs: Math.max(batchingWindowMs, 10),
      minBytes: batchingWindowMs > 0 ? 1024 * 1024 : 1,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    await this.applyStartingPosition();
    await consumer.connect();
    await consumer.subscribe({
      topics: [...config.topics],
      fromBeginning: config.startingPosition === "TRIM_HORIZON",
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.concurrency,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const size = config.batchSize ?? 100;
        for (let i = 0; i < batch.messages.length; i += size) {
          if (!isRunning() || isStale() || this.stopping) return; // abandoned: not committed
          const chunk = batch.messages.slice(i, i + size);
          const delivered = await this.deliver(batch.topic, batch.partition, chunk);
          if (!delivered) return; // stopping mid-retry: leave the batch uncommitted
          const last = chunk[chunk.length - 1] as KafkaMessage;
          resolveOffset(last.offset);
          const next = String(Number(last.offset) + 1);
          await consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: next },
          ]);
          this.partitionStats(batch.topic, batch.partition).committedOffset = Number(next);
          await heartbeat();
        }
      },
    });
  }

  /** Invokes the handler with the chunk until it succeeds or the retries run out. */
  private async deliver(topic: string, partition: number, chunk: KafkaMessage[]): Promise<boolean> {
    const { config } = this;
    const stats = this.partitionStats(topic, partition);
    const messages = this.keep ? chunk.filter(this.keep) : chunk;
    stats.filteredOut += chunk.length - messages.length;
    if (messages.length === 0) return true; // all filtered out: committed without an invocation
    const event = this.event(topic, partition, messages);
    const maxRetries = config.maximumRetryAttempts ?? 10;
    let backoffMs = config.retryBackoffMs ?? 200;
    stats.recordsIn += messages.length;
    for (let attempt = 1; ; attempt++) {
      stats.invocations++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        await config.handler(event);
        return true;
      } catch (error) {
        stats.errors++;
        if (attempt > maxRetries) {
          stats.failedBatches++;
          await config.onFailure?.({
            mapping: config.name,
            topic,
            partition,
            firstOffset: Number(messages[0]?.offset),
            lastOffset: Number(messages[messages.length - 1]?.offset),
            batchSize: messages.length,
            attempts: attempt,
            error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          });
          return true; // skipped past, as Lambda does once the destination has the record
        }
        stats.retries++;
      } finally {
        stats.inFlight--;
      }
      if (this.stopping) return false;
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    }
  }

  /** The event Lambda would send for these records. */
  private event(topic: string, partition: number, messages: KafkaMessage[]): MskEvent {
    return {
      eventSource: this.config.eventSource ?? "SelfManagedKafka",
      ...(this.config.eventSourceArn ? { eventSourceArn: this.config.eventSourceArn } : {}),
      bootstrapServers: this.connection.brokers.join(","),
      records: {
        [`${topic}-${partition}`]: messages.map((m) =>
          encodeMskRecord({
            topic,
            partition,
            offset: m.offset,
            timestamp: m.timestamp,
            key: m.key,
            value: m.value,
            headers: m.headers ?? {},
          }),
        ),
      },
    };
  }

  /** AT_TIMESTAMP: a group with no committed offsets starts at the first offset at or after it. */
  private async applyStartingPosition(): Promise<void> {
    const position = this.config.startingPosition;
    if (typeof position !== "object") return;
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const topic of this.config.topics) {
        const [committed] = await admin.fetchOffsets({
          groupId: this.config.consumerGroupId,
          topics: [topic],
        });
        if (committed?.partitions.some((p) => Number(p.offset) >= 0)) continue;
        const partitions = await admin.fetchTopicOffsetsByTimestamp(topic, position.timestampMs);
        await admin.setOffsets({ groupId: this.config.consumerGroupId, topic, partitions });
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** A snapshot of the counters, by `topic-partition`. */
  snapshot(): Record<string, PartitionStats> {
    return Object.fromEntries([...this.stats.entries()].map(([k, v]) => [k, { ...v }]));
  }

  private partitionStats(topic: string, partition: number): PartitionStats {
    const key = `${topic}-${partition}`;
    let stats = this.stats.get(key);
    if (!stats) {
      stats = emptyPartitionStats();
      this.stats.set(key, stats);
    }
    return stats;
  }

  /** Stops reading; the batch in flight finishes (or is abandoned uncommitted), then disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
  }
}
