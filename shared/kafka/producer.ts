import { Kafka, type Message, type Producer, type TopicMessages } from "kafkajs";
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

  /**
   * Sends to several topics; resolves when the broker acknowledged every record. Requests are
   * kept under {@link MAX_REQUEST_BYTES} (in order, one after the other), so a batch holding a
   * record near the broker's size limit — a dead letter of a 1 MB value — does not push the
   * whole request over it and fail every retry.
   */
  async send(topicMessages: TopicMessages[]): Promise<void> {
    if (topicMessages.every((t) => t.messages.length === 0)) return;
    const producer = await this.connected();
    try {
      for (const chunk of chunksOf(topicMessages))
        await producer.sendBatch({ topicMessages: chunk, acks: -1 });
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

/** Under the broker's default 1 MB `message.max.bytes`, with room for batch overhead. */
export const MAX_REQUEST_BYTES = 512 * 1024;

function sizeOf(message: Message): number {
  let bytes = 64 + byteLength(message.key) + byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    for (const v of [value].flat())
      bytes += name.length + byteLength(v as Buffer | string | undefined);
  }
  return bytes;
}

function byteLength(value: Buffer | string | null | undefined): number {
  return value === null || value === undefined
    ? 0
    : typeof value === "string"
      ? Buffer.byteLength(value)
      : value.length;
}

/** Splits topic messages into requests of at most MAX_REQUEST_BYTES (a bigger record goes alone). */
function* chunksOf(topicMessages: readonly TopicMessages[]): Generator<TopicMessages[]> {
  let chunk: TopicMessages[] = [];
  let bytes = 0;
  for (const { topic, messages } of topicMessages) {
    for (const message of messages) {
      const size = sizeOf(message);
      if (bytes > 0 && bytes + size > MAX_REQUEST_BYTES) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      const last = chunk[chunk.length - 1];
      if (last?.topic === topic) last.messages.push(message);
      else chunk.push({ topic, messages: [message] });
      bytes += size;
    }
  }
  if (chunk.length > 0) yield chunk;
}
