import type { TopicMessages } from "kafkajs";
import type { KafkaConnection } from "../shared/kafka/connection.ts";
import { ReusableProducer } from "../shared/kafka/producer.ts";

/**
 * The local functions' producers, one per concurrent send, as in Lambda, where every container
 * runs one invocation at a time with its own producer (built at module scope). A single shared
 * producer would queue every invocation's requests behind one another (`maxInFlightRequests: 1`,
 * which keeps an idempotent producer's order): a local bottleneck AWS does not have.
 */
export class ProducerPool {
  private readonly idle: ReusableProducer[] = [];
  private readonly all: ReusableProducer[] = [];

  constructor(
    private readonly connection: KafkaConnection,
    private readonly clientId: string,
  ) {}

  /** Sends on a producer no other send is using; resolves once the broker acknowledged all. */
  async send(topicMessages: TopicMessages[]): Promise<void> {
    const producer = this.idle.pop() ?? this.created();
    try {
      await producer.send(topicMessages);
    } finally {
      this.idle.push(producer);
    }
  }

  async disconnect(): Promise<void> {
    await Promise.all(this.all.map((p) => p.disconnect()));
  }

  private created(): ReusableProducer {
    const producer = new ReusableProducer(async () => this.connection, this.clientId);
    this.all.push(producer);
    return producer;
  }
}
