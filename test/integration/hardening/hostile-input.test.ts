import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type LocalPipelineOptions,
  startLocalPipeline,
} from "../../../localstack/local-pipeline.ts";
import { compileRecordParser } from "../../../shared/codec/parse-record.ts";
import type { MskEventRecord } from "../../../shared/msk/event.ts";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { HEADERS } from "../../../shared/usecases/headers.ts";
import { hostileCorpus } from "../../fixtures/hostile-corpus.ts";
import { kafkaConnection, testKafka, uniqueName } from "../helpers.ts";
import { TopicTail } from "../pipeline/topic-tail.ts";
import { lostWindows, reportHardening } from "../report.ts";

// The hostile corpus through the real runner, handlers, broker and DynamoDB Local, between valid
// events: every record Spark would turn into an all-null row or drop from every window reaches
// the dead-letter topic with a reason and its original bytes, none fails an invocation or blocks
// its partition, and the rows Spark keeps (wrong-typed fields null) are counted right.
const corpus = hostileCorpus();
const at = (minute: number) => `2025-01-01T12:${String(minute).padStart(2, "0")}:00Z`;
const clean = [1, 2, 3].flatMap((n) =>
  [0, 1, 2, 3, 4].map((m) => ({
    user: `c${n}`,
    action: "buy",
    amount: n * m + 0.5,
    event_time: at(m),
  })),
);
const closing = { user: "c9", action: "buy", amount: 0, event_time: at(30) }; // moves the watermark past 12:05

const name = uniqueName("hostile");
const pipeline = definePipeline({
  ...userSpending.definition,
  name,
  source: { ...userSpending.definition.source, topics: [`${name}.transactions`], batchSize: 25 },
  output: { topic: `${name}.out` },
});
let local: Awaited<ReturnType<typeof startLocalPipeline>>;

beforeAll(async () => {
  const options: LocalPipelineOptions = {
    pipeline,
    kafka: kafkaConnection(),
    dynamoDbEndpoint: inject("servers").dynamoDbEndpoint,
    tableName: uniqueName("state"),
    fromEarliest: true,
    sourcePartitions: 1, // one partition: the closing event is processed last
    flushEveryMs: 500,
  };
  local = await startLocalPipeline(options);
  const producer = testKafka().producer();
  await producer.connect();
  const topic = pipeline.topics.sources[0] as string;
  // One record per request: several near-1 MB records must not share a request.
  for (const [i, record] of corpus.entries()) {
    await producer.send({
      topic,
      messages: [{ key: record.key ?? null, value: record.value, headers: record.headers ?? {} }],
    });
    const valid = clean[i % clean.length];
    if (i < clean.length && valid)
      await producer.send({ topic, messages: [{ value: JSON.stringify(valid) }] });
  }
  await producer.send({ topic, messages: [{ value: JSON.stringify(closing) }] });
  await producer.disconnect();
}, 120_000);

afterAll(async () => {
  await local?.stop();
});

/** Reads `topic` until `enough` says so (or a minute passed). */
async function readUntil(topic: string, enough: (records: MskEventRecord[]) => boolean) {
  const tail = new TopicTail(testKafka(), topic);
  await tail.start();
  try {
    for (let i = 0; i < 600 && !enough([...tail.all().values()].flat()); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return [...tail.all().values()].flat();
  } finally {
    await tail.stop();
  }
}

describe("a hostile input corpus", () => {
  const expectInvalid = corpus.filter((r) => r.expect === "invalid");
  const expectFiltered = corpus.filter((r) => r.expect === "filtered");

  it("has at least 60 distinct bad records", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60);
    expect(new Set(corpus.map((r) => r.name)).size).toBe(corpus.length);
  });

  it("sends every invalid record to the dead-letter topic with a reason and its original bytes", async () => {
    const deadLetters = await readUntil(
      pipeline.topics.deadLetter,
      (r) => r.length >= expectInvalid.length,
    );
    expect(deadLetters).toHaveLength(expectInvalid.length);
    const byOffset = new Map<number, (typeof deadLetters)[number]>();
    for (const record of deadLetters) {
      const header = (key: string) =>
        Buffer.from(record.headers.find((h) => key in h)?.[key] ?? []).toString();
      expect(header(HEADERS.error).length).toBeGreaterThan(5);
      byOffset.set(Number(header(HEADERS.sourceOffset)), record);
    }
    // Source offsets: the corpus and the clean events were produced interleaved, in order.
    let offset = 0;
    for (const [i, record] of corpus.entries()) {
      const dead = byOffset.get(offset);
      if (record.expect === "invalid") {
        expect(dead, record.name).toBeDefined();
        const value =
          dead?.value === undefined || dead.value === null
            ? Buffer.alloc(0)
            : Buffer.from(dead.value, "base64");
        expect(value.equals(record.value ?? Buffer.alloc(0)), record.name).toBe(true);
      } else {
        expect(dead, record.name).toBeUndefined();
      }
      offset += i < clean.length ? 2 : 1;
    }
  });

  it("counts what it filtered and never fails or blocks an invocation", async () => {
    const total = corpus.length + clean.length + 1;
    for (let i = 0; i < 600 && local.totals.parse.in < total; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(local.totals.parse).toMatchObject({
      in: total,
      valid: total - expectInvalid.length - expectFiltered.length,
      filtered: expectFiltered.length,
      invalid: expectInvalid.length,
    });
    for (const runner of local.runners) {
      for (const stats of Object.values(runner.snapshot()))
        expect(stats).toMatchObject({ errors: 0, failedBatches: 0 });
    }
  });

  it("counts the valid events around them correctly", async () => {
    const expected = new Map<string, number>();
    for (const v of clean) expected.set(v.user, (expected.get(v.user) ?? 0) + v.amount);
    // The valid records' rows as Spark's from_json reads them (test/spark holds our parser to it).
    const parse = compileRecordParser(pipeline.fields);
    for (const r of corpus.filter((c) => c.expect === "valid")) {
      const parsed = parse(r.value);
      if (!parsed.ok) throw new Error(`${r.name}: ${parsed.reason}`);
      const { user, amount } = parsed.row as { user: string; amount: number | null };
      expected.set(user, (expected.get(user) ?? 0) + (amount ?? 0));
    }
    // A result may arrive twice (the flush and the window function racing): byte-identical, so
    // reading results by user is the consumer's dedupe.
    const byUser = (records: MskEventRecord[]) =>
      new Map(
        records.map((r) => {
          const value = JSON.parse(Buffer.from(r.value ?? "", "base64").toString()) as {
            user: string;
            total_spent: number;
          };
          return [value.user, value.total_spent] as const;
        }),
      );
    const records = await readUntil(pipeline.topics.output, (r) => byUser(r).size >= expected.size);
    const totals = byUser(records);
    reportHardening({
      case: `hostile input corpus (${corpus.length} records among ${clean.length + 1} valid)`,
      faults: `${expectInvalid.length} invalid, ${expectFiltered.length} filtered`,
      rounds: 1,
      eventsIn: corpus.length + clean.length + 1,
      resultsOut: records.length,
      lost: lostWindows(expected, totals),
      duplicated: records.length - totals.size,
    });
    expect(totals).toEqual(expected);
  });
});
