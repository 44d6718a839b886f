import { beforeAll, describe, expect, it } from "vitest";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { testDynamoDb, testKafka, uniqueName } from "../helpers.ts";
import { createPipelineTopics, drivePipeline, produceExactly } from "./driver.ts";
import { TopicTail } from "./topic-tail.ts";
import { expectedResults, generateTrace } from "./trace.ts";

const SOURCE_PARTITIONS = 3;
// ≥ 20,000 events over 3 source partitions, ~13 hours of event time, no late event: read in one
// Spark micro-batch, nothing of it is late and every window the final watermark passed is emitted.
const trace = generateTrace(20_400, SOURCE_PARTITIONS).filter((e) => e.kind !== "late");
const expected = expectedResults(trace);
const kafka = testKafka();
const tableName = uniqueName("state");

beforeAll(() => ensureStateTable(testDynamoDb(), tableName));

// Issue 14: a backlog produced before the pipeline starts, through the default 4 repartition
// partitions, in the least favourable order — each source partition parsed to its end, then each
// repartition partition windowed to its end one after the other. With the shared max watermark
// the partition that runs first makes the others' events late; with the watermark from every
// source's progress nothing is late and the results are Spark's.
describe("a backlog with watermarkFrom 'sources' on the real broker and DynamoDB Local", () => {
  it("counts every event, nothing late, and emits exactly Spark's windows", async () => {
    // Prepare
    const name = uniqueName("backlog");
    const pipeline = definePipeline({
      ...userSpending.definition,
      name,
      source: { ...userSpending.definition.source, topics: [`${name}.transactions`] },
      output: { topic: `${name}.out` },
      watermarkFrom: "sources",
    });
    expect(pipeline.partitions).toBe(4);
    await createPipelineTopics(kafka, pipeline, SOURCE_PARTITIONS);
    await produceExactly(
      kafka,
      pipeline.topics.sources[0] as string,
      trace.map((e) => ({ value: e.value, partition: e.partition })),
    );

    // Act: one parse round reads every source partition to its end (batches of 10,000).
    const totals = await drivePipeline(
      kafka,
      pipeline,
      tableName,
      SOURCE_PARTITIONS,
      1_000,
      {},
      10_000,
    );

    // Assess
    expect(totals.window.late).toBe(0);
    expect(totals.window.counted).toBe(trace.filter((e) => e.kind === "valid").length);
    const tail = new TopicTail(kafka, pipeline.topics.output);
    await tail.start();
    const results = new Map<string, number>();
    try {
      await tail.catchUp();
      for (const r of [...tail.all().values()].flat()) {
        const v = JSON.parse(Buffer.from(r.value ?? "", "base64").toString());
        results.set(`${v.user}|${Date.parse(v.window.start)}`, v.total_spent);
      }
    } finally {
      await tail.stop();
    }
    const emittedExpected = new Map([...expected].filter(([id]) => results.has(id)));
    expect(results).toEqual(emittedExpected);
    // Sources are behind (full batches) until the end, so all but the last windows are out.
    expect(results.size).toBeGreaterThan(expected.size * 0.9);
  }, 600_000);
});
