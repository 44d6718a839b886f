import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Kafka, logLevel, type Message } from "kafkajs";
import { toKafkaJsConfig } from "../../shared/kafka/connection.ts";
import { toolConnection } from "./connection.ts";

const USAGE = `Usage: npm run produce -- <topic> [file] [--key-field <field>]

Sends JSON lines (one record value per line) from a file or stdin to a topic. Lines are sent as
they are, even invalid JSON (that is how you try the dead-letter path). With --key-field, a line
that is a JSON object is keyed by that field.`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { "key-field": { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const [topic, file] = positionals;
  if (values.help || !topic) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const kafka = new Kafka(
    toKafkaJsConfig(toolConnection(), "sparkless-produce", { logLevel: logLevel.ERROR }),
  );
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const lines = createInterface({
    input: file ? createReadStream(file) : process.stdin,
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let sent = 0;
  let batch: Message[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await producer.send({ topic, messages: batch, acks: -1 });
    sent += batch.length;
    batch = [];
  };
  for await (const line of lines) {
    if (line.trim() === "") continue;
    batch.push({ key: keyOf(line, values["key-field"]), value: line });
    if (batch.length >= 500) await flush();
  }
  await flush();
  await producer.disconnect();
  console.error(`Sent ${sent} records to ${topic}.`);
  return 0;
}

function keyOf(line: string, field: string | undefined): string | null {
  if (!field) return null;
  try {
    const value = (JSON.parse(line) as Record<string, unknown>)[field];
    return value === undefined || value === null ? null : String(value);
  } catch {
    return null;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
