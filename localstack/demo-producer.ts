import { Kafka, logLevel } from "kafkajs";
import { type KafkaConnection, toKafkaJsConfig } from "../shared/kafka/connection.ts";

export interface DemoProducerOptions {
  readonly connection: KafkaConnection;
  readonly topic: string;
  /** Events per wall-clock second. */
  readonly ratePerSec: number;
  /** How much faster than the wall clock the events' clock runs (60: a minute per second). */
  readonly speed: number;
  readonly users?: readonly string[];
}

/**
 * Feeds the seed's `transactions` events at a steady rate: a few users, amounts in cents, event
 * times on an accelerated clock so 5-minute windows close in seconds — plus, so every path shows,
 * about 2% late events (20 minutes behind) and 2% malformed ones.
 */
export async function startDemoProducer(options: DemoProducerOptions) {
  const kafka = new Kafka(
    toKafkaJsConfig(options.connection, "sparkless-demo", { logLevel: logLevel.ERROR }),
  );
  const producer = kafka.producer();
  await producer.connect();
  const users = options.users ?? ["alice", "bob", "carol", "dave", "erin"];
  const startedWallMs = Date.now();
  const startEventMs = startedWallMs;
  let sent = 0;
  let stopped = false;
  const eventClockMs = () => startEventMs + (Date.now() - startedWallMs) * options.speed;
  const tickMs = 100;

  const loop = (async () => {
    while (!stopped) {
      const due = Math.floor(((Date.now() - startedWallMs) / 1000) * options.ratePerSec) - sent;
      if (due > 0) {
        const messages = Array.from({ length: due }, () => ({
          value: demoEvent(users, eventClockMs(), sent++),
        }));
        await producer.send({ topic: options.topic, messages }).catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
  })();

  return {
    eventClockMs,
    sent: () => sent,
    async stop() {
      stopped = true;
      await loop;
      await producer.disconnect();
    },
  };
}

function demoEvent(users: readonly string[], nowMs: number, n: number): string {
  if (n % 50 === 17) return `{"user": "${users[n % users.length]}", "amount": 12.5, "event_time": `; // malformed
  const late = n % 50 === 33;
  const eventTimeMs = late ? nowMs - 20 * 60_000 : nowMs - Math.floor(Math.random() * 30_000);
  return JSON.stringify({
    user: users[Math.floor(Math.random() * users.length)],
    action: Math.random() < 0.8 ? "purchase" : "refund",
    amount: Math.round(Math.random() * 10_000) / 100,
    event_time: new Date(eventTimeMs).toISOString(),
  });
}
