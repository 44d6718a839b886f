import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { type Admin, Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { toKafkaJsConfig } from "../../shared/kafka/connection.ts";
import { toolConnection } from "./connection.ts";
import { ToolUsageError } from "./errors.ts";

const USAGE = `Usage: npm run consume -- <topic> [options]

Prints a topic's records: one line per record with partition/offset, key, value (UTF-8) and
headers. Without --exit it follows the topic until Ctrl-C.

Options:
  --from-beginning   start at each partition's earliest offset (default: the latest, new records only)
  --from <time>      start at the first record with a timestamp at or after <time> (ISO-8601,
                     e.g. 2025-01-01T12:00:00Z): Kafka's offsets-by-timestamp lookup
  --exit             stop at the end offsets read at start (like kcat -e)
  --max <n>          stop after n records
  --json             one JSON object per record instead of text
  -h, --help         this text

Reads without leaving a consumer group: kafkajs reads only through a group, so this one uses a
throwaway group that never commits an offset and deletes it when it stops (a process killed
with SIGKILL leaves an empty group without offsets, which the broker drops on its own).`;

/** Where each partition starts and, with --exit, where it stops (exclusive). */
interface PartitionRange {
  readonly startOffset: number;
  readonly endOffset: number | undefined;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      "from-beginning": { type: "boolean", default: false },
      from: { type: "string" },
      exit: { type: "boolean", default: false },
      max: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  const [topic] = positionals;
  if (values.help || !topic) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const fromMs = values.from === undefined ? undefined : parseTime(values.from);
  if (fromMs !== undefined && values["from-beginning"]) {
    throw new ToolUsageError("--from and --from-beginning contradict each other: give one");
  }
  const max = values.max === undefined ? Number.POSITIVE_INFINITY : positiveInt(values.max);

  const kafka = new Kafka(
    toKafkaJsConfig(toolConnection(), "sparkless-consume", { logLevel: logLevel.ERROR }),
  );
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `sparkless-consume-${randomBytes(6).toString("hex")}`;
  try {
    const ranges = await partitionRanges(admin, topic, {
      fromBeginning: values["from-beginning"],
      fromMs,
      exit: values.exit,
    });
    const print = printer(values.json);
    let printed = 0;
    const done = resolvable();
    const position = new Map([...ranges].map(([p, r]) => [p, r.startOffset]));
    const finished = () =>
      printed >= max ||
      (values.exit && [...ranges].every(([p, r]) => (position.get(p) ?? 0) >= (r.endOffset ?? 0)));
    if (finished()) done.resolve();

    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic] });
      // Batches can end past the last record (compaction, control records): move on with them.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const next = Number(payload.lastOffset) + 1;
        if (next > (position.get(payload.partition) ?? 0)) position.set(payload.partition, next);
        if (finished()) done.resolve();
      });
      await consumer.run({
        // Never commit: the group is thrown away, and a committed offset would keep it alive.
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const offset = Number(message.offset);
          const end = ranges.get(partition)?.endOffset;
          if (printed >= max || (end !== undefined && offset >= end)) return;
          print(partition, offset, message);
          printed++;
          position.set(partition, offset + 1);
          if (finished()) done.resolve();
        },
      });
      for (const [partition, range] of ranges) {
        consumer.seek({ topic, partition, offset: String(range.startOffset) });
      }
      const stop = () => done.resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      await done.promise;
    } finally {
      await consumer.disconnect();
    }
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return 0;
}

/** Each partition's start offset, and its end offset at start when `exit` is set. */
async function partitionRanges(
  admin: Admin,
  topic: string,
  options: { fromBeginning: boolean; fromMs: number | undefined; exit: boolean },
): Promise<Map<number, PartitionRange>> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) {
    throw new ToolUsageError(
      `Topic '${topic}' does not exist (topics are not created automatically). Topics: ${topics.filter((t) => !t.startsWith("__")).join(", ")}`,
    );
  }
  const offsets = await admin.fetchTopicOffsets(topic);
  const byTime =
    options.fromMs === undefined
      ? undefined
      : new Map(
          (await admin.fetchTopicOffsetsByTimestamp(topic, options.fromMs)).map((p) => [
            p.partition,
            Number(p.offset),
          ]),
        );
  return new Map(
    offsets.map(({ partition, low, high }) => {
      const startOffset = options.fromBeginning
        ? Number(low)
        : (byTime?.get(partition) ?? Number(high));
      return [partition, { startOffset, endOffset: options.exit ? Number(high) : undefined }];
    }),
  );
}

function printer(json: boolean) {
  return (partition: number, offset: number, message: KafkaMessage) => {
    const headers = Object.fromEntries(
      Object.entries(message.headers ?? {}).map(([k, v]) => [
        k,
        Array.isArray(v) ? v.map(String) : String(v),
      ]),
    );
    const record = {
      partition,
      offset,
      timestamp: new Date(Number(message.timestamp)).toISOString(),
      key: message.key?.toString() ?? null,
      value: message.value?.toString() ?? null,
      headers,
    };
    if (json) {
      console.log(JSON.stringify(record));
      return;
    }
    const extra = Object.keys(headers).length > 0 ? `  ${JSON.stringify(headers)}` : "";
    console.log(`${partition}/${offset}  ${record.key ?? "∅"}  ${record.value ?? "∅"}${extra}`);
  };
}

/** A promise with its resolve function at hand (`Promise.withResolvers` is ES2024). */
function resolvable(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function parseTime(raw: string): number {
  const ms = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(ms)) {
    throw new ToolUsageError(`--from '${raw}' is not an ISO-8601 time (e.g. 2025-01-01T12:00:00Z)`);
  }
  return ms;
}

function positiveInt(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new ToolUsageError(`--max must be a positive integer, got '${raw}'`);
  return n;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof ToolUsageError ? 2 : 1);
  },
);
