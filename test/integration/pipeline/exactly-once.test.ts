import type { Kafka } from "kafkajs";
import { beforeAll, describe, expect, it } from "vitest";
import { definePipeline, type Pipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { HEADERS } from "../../../shared/usecases/headers.ts";
import { testDynamoDb, testKafka, uniqueName } from "../helpers.ts";
import { lostWindows, reportHardening } from "../report.ts";
import { createPipelineTopics, drivePipeline, type Faults, produceExactly } from "./driver.ts";
import { TopicTail } from "./topic-tail.ts";
import { expectedResults, generateTrace, type TraceEvent } from "./trace.ts";

const SOURCE_PARTITIONS = 3;
const BATCH_SIZE = 100;
const trace = generateTrace(3_000, SOURCE_PARTITIONS);
const expected = expectedResults(trace);
const tableName = uniqueName("state");
let kafka: Kafka;

beforeAll(async () => {
  kafka = testKafka();
  await ensureStateTable(testDynamoDb(), tableName);
});

/** The default pipeline on topics of its own, fed the trace. */
async function freshPipeline(): Promise<Pipeline> {
  const name = uniqueName("spend");
  const pipeline = definePipeline({
    ...userSpending.definition,
    name,
    source: { ...userSpending.definition.source, topics: [`${name}.transactions`] },
    output: { topic: `${name}.out` },
  });
  await createPipelineTopics(kafka, pipeline, SOURCE_PARTITIONS);
  await produceExactly(
    kafka,
    pipeline.topics.sources[0] as string,
    trace.map((e: TraceEvent) => ({ value: e.value, partition: e.partition })),
  );
  return pipeline;
}

interface OutputRecord {
  readonly key: string;
  readonly value: string;
  readonly id: string;
}

async function readTopic(topic: string): Promise<OutputRecord[]> {
  const tail = new TopicTail(kafka, topic);
  await tail.start();
  try {
    await tail.catchUp();
    return [...tail.all().values()].flat().map((r) => ({
      key: Buffer.from(r.key ?? "", "base64").toString(),
      value: Buffer.from(r.value ?? "", "base64").toString(),
      id: Buffer.from(
        r.headers.find((h) => HEADERS.resultId in h)?.[HEADERS.resultId] ?? [],
      ).toString(),
    }));
  } finally {
    await tail.stop();
  }
}

/** Output records as `user|startMs` → total, asserting every duplicate is byte-identical. */
function resultsOf(records: readonly OutputRecord[]): {
  totals: Map<string, number>;
  duplicates: number;
} {
  const byId = new Map<string, OutputRecord>();
  let duplicates = 0;
  for (const record of records) {
    const seen = byId.get(record.id);
    if (seen) {
      duplicates++;
      expect(record).toEqual(seen); // a re-send is the same bytes, never a different result
    }
    byId.set(record.id, record);
  }
  const totals = new Map<string, number>();
  for (const { key, value } of byId.values()) {
    const result = JSON.parse(value) as {
      window: { start: string };
      user: string;
      total_spent: number;
    };
    expect(key).toBe(result.user);
    totals.set(`${result.user}|${Date.parse(result.window.start)}`, result.total_spent);
  }
  return { totals, duplicates };
}

function report(
  name: string,
  faults: string,
  output: { totals: Map<string, number>; duplicates: number },
): void {
  reportHardening({
    case: name,
    faults,
    rounds: 1,
    eventsIn: trace.length,
    resultsOut: output.totals.size + output.duplicates,
    lost: lostWindows(expected, output.totals),
    duplicated: output.duplicates,
  });
}

const validEvents = trace.filter((e) => e.kind === "valid").length;
const lateEvents = trace.filter((e) => e.kind === "late").length;

describe("the default pipeline on the real broker and DynamoDB Local", () => {
  it("produces exactly Spark's window results, and the counts add up", async () => {
    // Prepare
    const pipeline = await freshPipeline();

    // Act
    const totals = await drivePipeline(kafka, pipeline, tableName, SOURCE_PARTITIONS, BATCH_SIZE);

    // Assess
    const output = resultsOf(await readTopic(pipeline.topics.output));
    expect(output.duplicates).toBe(0);
    expect(output.totals).toEqual(expected);
    expect(expected.size).toBeGreaterThan(100);
    const { parse, window } = totals;
    expect(parse.in).toBe(trace.length);
    expect(parse.in).toBe(parse.valid + parse.filtered + parse.invalid);
    expect(parse.invalid).toBe(trace.filter((e) => e.kind === "invalid").length);
    expect(parse.valid).toBe(window.counted + window.late);
    expect(window).toMatchObject({ counted: validEvents, late: lateEvents, duplicates: 0 });
    const deadLetters = await readTopic(pipeline.topics.deadLetter);
    expect(deadLetters).toHaveLength(parse.invalid);
    expect((await readTopic(pipeline.topics.late)).length).toBe(lateEvents);
  });

  it.each<[string, Faults]>([
    ["every batch delivered twice", { deliverTwice: true }],
    ["batches re-delivered larger after a timeout", { redeliverLarger: true }],
    ["the parse step re-producing every batch", { reproduceParse: true }],
    ["two window invocations racing on a partition", { raceWindow: true }],
  ])("gives identical results with %s: nothing counted twice", async (_case, faults) => {
    // Prepare
    const pipeline = await freshPipeline();

    // Act
    const totals = await drivePipeline(
      kafka,
      pipeline,
      tableName,
      SOURCE_PARTITIONS,
      BATCH_SIZE,
      faults,
    );

    // Assess
    const output = resultsOf(await readTopic(pipeline.topics.output));
    report(_case, "each batch", output);
    expect(output.totals).toEqual(expected);
    expect(totals.window.counted).toBe(validEvents);
    expect(totals.window.duplicates).toBeGreaterThan(0);
  });

  it("gives identical results with 2% of DynamoDB calls throttled, before or after taking effect", async () => {
    // Prepare
    const pipeline = await freshPipeline();

    // Act: a throttled invocation fails whole and Lambda retries it.
    const totals = await drivePipeline(kafka, pipeline, tableName, SOURCE_PARTITIONS, BATCH_SIZE, {
      throttleShare: 0.02,
    });

    // Assess
    const output = resultsOf(await readTopic(pipeline.topics.output));
    report(
      "DynamoDB calls throttled",
      `2% of calls (${totals.crashes} failed invocations)`,
      output,
    );
    expect(totals.crashes).toBeGreaterThan(0);
    expect(output.totals).toEqual(expected);
  });

  it.each<Faults["crashAt"]>(["before-state", "between-state-writes", "after-state", "after-emit"])(
    "completes every result after crashes at '%s'; any duplicate is byte-identical",
    async (crashAt) => {
      // Prepare
      const pipeline = await freshPipeline();

      // Act
      const totals = await drivePipeline(
        kafka,
        pipeline,
        tableName,
        SOURCE_PARTITIONS,
        BATCH_SIZE,
        { crashAt },
      );

      // Assess
      const output = resultsOf(await readTopic(pipeline.topics.output));
      report(`crash at '${crashAt}'`, `every 3rd window invocation (${totals.crashes})`, output);
      expect(totals.crashes).toBeGreaterThan(0);
      expect(output.totals).toEqual(expected);
      // A crash after the broker acknowledged results but before they were marked re-sends them.
      if (crashAt === "after-emit") expect(output.duplicates).toBeGreaterThan(0);
    },
  );

  // With no on-failure destination Lambda retries a failed Kafka batch until it succeeds; the
  // cap of 10 applies only with a destination, which the stack refuses.
  // https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
  it("gives Spark's results when window batches fail 12 times (more than AWS's cap) before they succeed", async () => {
    // Prepare
    const pipeline = await freshPipeline();

    // Act
    const totals = await drivePipeline(kafka, pipeline, tableName, SOURCE_PARTITIONS, BATCH_SIZE, {
      failBatches: { every: 10, times: 12 },
    });

    // Assess
    const output = resultsOf(await readTopic(pipeline.topics.output));
    report("retries past AWS's cap", `every 10th batch fails 12 times (${totals.crashes})`, output);
    expect(totals.crashes).toBeGreaterThan(12);
    expect(output.totals).toEqual(expected);
  }, 180_000);
});
