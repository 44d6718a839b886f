import { Kafka, type Producer, type TopicMessages } from "kafkajs";
import { type KafkaConnection, toKafkaJsConfig } from "./connection.ts";

/**
 * One idempotent producer per Lambda container: connected on first use, reused by every later
 * invocation (connecting over SASL/SCRAM + TLS costs several round trips), rebuilt after a
 * failure. Every send waits for all in-sync replicas (`acks: -1`) before it resolves, so a
 * handler that returns has its records on the broker.
 */
export class ReusableProducer {
  private producer: Promise<Producer> | undefined;

  constructor(
    private readonly connection: () => Promise<KafkaConnection>,
    private readonly clientId: string,
  ) {}

  /** Sends to several topics at once; resolves when the broker acknowledged every record. */
  async send(topicMessages: TopicMessages[]): Promise<void> {
    if (topicMessages.every((t) => t.messages.length === 0)) return;
    const producer = await this.connected();
    try {
      await producer.sendBatch({ topicMessages, acks: -1 });
    } catch (error) {
      // A broken connection is not repaired in place: the next invocation starts afresh.
      await this.disconnect();
      throw error;
    }
  }

  async disconnect(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await producer.then((p) => p.disconnect()).catch(() => undefined);
  }

  private connected(): Promise<Producer> {
    this.producer ??= (async () => {
      const kafka = new Kafka(toKafkaJsConfig(await this.connection(), this.clientId));
      // Idempotence: broker-side dedupe of the producer's own retries, and order kept per partition
      // (kafkajs needs one request in flight for that).
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      return producer;
    })().catch((error: unknown) => {
      this.producer = undefined;
      throw error;
    });
    return this.producer;
  }
}
