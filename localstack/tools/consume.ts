import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { toKafkaJsConfig } from "../../shared/kafka/connection.ts";
import { toolConnection } from "./connection.ts";

const USAGE = `Usage: npm run consume -- <topic> [--from-beginning] [--json]

Tails a topic: one line per record with partition/offset, key, value (UTF-8) and headers.
--json prints each record as a JSON object instead. Ctrl-C stops.`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      "from-beginning": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  const [topic] = positionals;
  if (values.help || !topic) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const kafka = new Kafka(
    toKafkaJsConfig(toolConnection(), "sparkless-consume", { logLevel: logLevel.ERROR }),
  );
  const consumer = kafka.consumer({
    groupId: `sparkless-consume-${process.pid}`,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: values["from-beginning"] });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers = Object.fromEntries(
        Object.entries(message.headers ?? {}).map(([k, v]) => [
          k,
          Array.isArray(v) ? v.map(String) : String(v),
        ]),
      );
      const record = {
        partition,
        offset: Number(message.offset),
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
        headers,
      };
      if (values.json) console.log(JSON.stringify(record));
      else {
        const extra = Object.keys(headers).length > 0 ? `  ${JSON.stringify(headers)}` : "";
        console.log(
          `${partition}/${record.offset}  ${record.key ?? "∅"}  ${record.value ?? "∅"}${extra}`,
        );
      }
    },
  });
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await consumer.disconnect();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
