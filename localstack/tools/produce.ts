import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Kafka, logLevel, type Message } from "kafkajs";
import { toKafkaJsConfig } from "../../shared/kafka/connection.ts";
import { toolConnection } from "./connection.ts";
import { ToolUsageError } from "./errors.ts";

const USAGE = `Usage: npm run produce -- <topic> [file] [--key <field>]

Sends JSON lines (one record value per line) from a file, or from stdin without one, to a topic.
Lines are sent as they are, even invalid JSON (that is how you try the dead-letter path); empty
lines are skipped.

Options:
  --key <field>   key each record by this field of its JSON object (a string as is, any other
                  value as its JSON text); lines without it are sent without a key, and counted
  -h, --help      this text`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { key: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const [topic, file] = positionals;
  if (values.help || !topic) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const kafka = new Kafka(
    toKafkaJsConfig(toolConnection(), "sparkless-produce", { logLevel: logLevel.ERROR }),
  );
  if (file !== undefined && !existsSync(file)) throw new ToolUsageError(`No such file: ${file}`);
  const admin = kafka.admin();
  await admin.connect();
  const topics = await admin.listTopics().finally(() => admin.disconnect());
  if (!topics.includes(topic)) {
    throw new ToolUsageError(
      `Topic '${topic}' does not exist (topics are not created automatically). Topics: ${topics.filter((t) => !t.startsWith("__")).join(", ")}`,
    );
  }
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const lines = createInterface({
    input: file ? createReadStream(file) : process.stdin,
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  const keyField = values.key;
  let sent = 0;
  let unkeyed = 0;
  let batch: Message[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await producer.send({ topic, messages: batch, acks: -1 });
    sent += batch.length;
    batch = [];
  };
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const key = keyField === undefined ? null : keyOf(line, keyField);
    if (keyField !== undefined && key === null) unkeyed++;
    batch.push({ key, value: line });
    if (batch.length >= 500) await flush();
  }
  await flush();
  await producer.disconnect();
  console.error(
    `Sent ${sent} records to ${topic}.${unkeyed > 0 ? ` ${unkeyed} had no '${keyField}' field (or were not JSON objects): sent without a key.` : ""}`,
  );
  return 0;
}

/** The record key: the field of a JSON object line, as text; null when there is none. */
function keyOf(line: string, field: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const value = (parsed as Record<string, unknown>)[field];
  if (value === undefined || value === null) return null;
  return typeof value === "string" ? value : JSON.stringify(value);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof ToolUsageError ? 2 : 1);
  },
);
