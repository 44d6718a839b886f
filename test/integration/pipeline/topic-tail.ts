import type { Consumer, Kafka } from "kafkajs";
import {
  type ConsumedRecord,
  encodeMskRecord,
  type MskEventRecord,
} from "../../../shared/msk/event.ts";
import { uniqueName } from "../helpers.ts";

/**
 * Reads a topic from the beginning into per-partition arrays, and hands out what has arrived
 * since the last call — a test's view of "the next batches" of an event-source mapping.
 */
export class TopicTail {
  private readonly partitions = new Map<number, MskEventRecord[]>();
  private readonly taken = new Map<number, number>();
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
  ) {}

  async start(): Promise<void> {
    this.consumer = this.kafka.consumer({ groupId: uniqueName("tail"), maxWaitTimeInMs: 100 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ partition, message }) => {
        const records = this.partitions.get(partition) ?? [];
        this.partitions.set(partition, records);
        records.push(
          encodeMskRecord({
            ...(message as unknown as ConsumedRecord),
            topic: this.topic,
            partition,
          }),
        );
      },
    });
  }

  /** Waits until every partition holds what the broker has (its high watermark). */
  async catchUp(timeoutMs = 30_000): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.topic);
      const deadline = Date.now() + timeoutMs;
      for (const { partition, high } of offsets) {
        while ((this.partitions.get(partition)?.length ?? 0) < Number(high)) {
          if (Date.now() > deadline)
            throw new Error(`${this.topic}-${partition} did not reach offset ${high}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** Everything read so far, per partition. */
  all(): Map<number, MskEventRecord[]> {
    return this.partitions;
  }

  /** Up to `max` records of `partition` not handed out yet. */
  next(partition: number, max: number): MskEventRecord[] {
    const from = this.taken.get(partition) ?? 0;
    const batch = (this.partitions.get(partition) ?? []).slice(from, from + max);
    this.taken.set(partition, from + batch.length);
    return batch;
  }

  /** Records of `partition` from `from` on, without moving the cursor (for redeliveries). */
  slice(partition: number, from: number, to: number): MskEventRecord[] {
    return (this.partitions.get(partition) ?? []).slice(from, to);
  }

  cursor(partition: number): number {
    return this.taken.get(partition) ?? 0;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
