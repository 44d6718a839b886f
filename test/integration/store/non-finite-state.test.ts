import type { TopicMessages } from "kafkajs";
import { beforeAll, describe, expect, it } from "vitest";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { DynamoDbWindowStore } from "../../../shared/store/dynamodb-window-store.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { processWindowBatch } from "../../../shared/usecases/window-batch.ts";
import { repartitionRecord } from "../../fixtures/repartition-records.ts";
import { testDocumentClient, testDynamoDb, uniqueName } from "../helpers.ts";
import { runTool } from "../tools/run-tool.ts";

const MINUTE_MS = 60_000;
const W = '{"window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:05:00.000Z"}';

// NaN, ±Infinity and −0.0 through the repartition records and DynamoDB Local's state items (JSON
// has no number for them) across two batches, so every aggregate is read back and merged. The
// expected bytes are Spark 3.5.7's (test/spark/corpus.ts "NaN and infinities in every aggregation").
describe("non-finite doubles in window state", () => {
  const tableName = uniqueName("nonfinite");
  beforeAll(() => ensureStateTable(testDynamoDb(), tableName));

  it("come back from DynamoDB as they went in, and the results are Spark's", async () => {
    // Prepare
    const pipeline = definePipeline({
      ...userSpending.definition,
      partitions: 1,
      aggregations: [
        { fn: "sum", column: "amount", as: "total" },
        { fn: "min", column: "amount", as: "least" },
        { fn: "max", column: "amount", as: "most" },
        { fn: "avg", column: "amount", as: "mean" },
        { fn: "count", column: "amount", as: "amounts" },
      ],
    });
    const outputs: Array<[string, string]> = [];
    const deps = {
      pipeline,
      store: new DynamoDbWindowStore(testDocumentClient(), tableName),
      nowMs: () => 0,
      send: async (topics: TopicMessages[]) => {
        for (const t of topics.filter((t) => t.topic === pipeline.topics.output))
          for (const m of t.messages) outputs.push([String(m.key), String(m.value)]);
      },
    };
    let offset = 0;
    const batch = (events: ReadonlyArray<readonly [string, number, number]>) =>
      processWindowBatch(
        events.map(([groupKey, amount, minute]) =>
          repartitionRecord(pipeline, {
            groupKey,
            eventTimeMs: minute * MINUTE_MS,
            row: { amount },
            source: "transactions/0",
            sourceOffset: offset++,
          }),
        ),
        deps,
      );

    // Act: the first half of each key's values, then the second half, then the state tool while
    // the window is open, then an event that closes it.
    await batch([
      ["n", Number.NaN, 1],
      ["i", Infinity, 1],
      ["m", -Infinity, 1],
      ["z", -0, 1],
    ]);
    await batch([
      ["n", 1, 2],
      ["i", 2, 2],
      ["m", Infinity, 2],
      ["z", -0, 2],
    ]);
    const state = await runTool("state", [pipeline.name, "--table", tableName, "--key", "m"]);
    await batch([["closer", 0, 30]]);

    // Assess
    expect(state.code, state.stderr).toBe(0);
    expect(state.stdout).toContain(
      // The tool knows the registered definition (its first aggregation: the sum), not this one.
      "m  [1970-01-01T00:00:00.000Z, 1970-01-01T00:05:00.000Z)  p0  total_spent=NaN  open",
    );
    expect(outputs.sort()).toEqual([
      [
        "i",
        `${W},"user":"i","total":"Infinity","least":2.0,"most":"Infinity","mean":"Infinity","amounts":2}`,
      ],
      [
        "m",
        `${W},"user":"m","total":"NaN","least":"-Infinity","most":"Infinity","mean":"NaN","amounts":2}`,
      ],
      ["n", `${W},"user":"n","total":"NaN","least":1.0,"most":"NaN","mean":"NaN","amounts":2}`],
      ["z", `${W},"user":"z","total":0.0,"least":-0.0,"most":-0.0,"mean":0.0,"amounts":2}`],
    ]);
  });
});
