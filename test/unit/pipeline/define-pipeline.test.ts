import { describe, expect, it } from "vitest";
import type { PipelineDefinition } from "../../../shared/pipeline/definition.ts";
import { PipelineDefinitionError } from "../../../shared/pipeline/errors.ts";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";

const base = userSpending.definition;
const variant = (change: Record<string, unknown>) => ({ ...base, ...change }) as PipelineDefinition;

describe("definePipeline", () => {
  it("normalizes the default pipeline: ms units, derived topics, defaults", () => {
    expect(userSpending).toMatchObject({
      name: "user-spending",
      windowSizeMs: 300_000,
      windowSlideMs: 300_000,
      watermarkDelayMs: 600_000,
      emit: "final",
      topics: {
        sources: ["transactions"],
        repartition: "user-spending.repartition",
        deadLetter: "user-spending.dlq",
        late: "user-spending.late",
        output: "user-spending",
      },
    });
    expect(userSpending.declarativeFilter).toEqual({ notNull: ["user"] });
  });

  it("gives each mapping its batching window: the window function's defaults to the source's", () => {
    // The default pipeline parses at once and gathers 500 ms before writing state.
    expect(userSpending).toMatchObject({
      maxBatchingWindowMs: 0,
      repartitionBatchingWindowMs: 500,
    });
    const source = { topics: ["t"], maxBatchingWindow: "2 s" };
    const inherited = definePipeline({
      ...variant({ source }),
      repartitionBatchingWindow: undefined,
    });
    expect(inherited).toMatchObject({
      maxBatchingWindowMs: 2_000,
      repartitionBatchingWindowMs: 2_000,
    });
    expect(() => definePipeline(variant({ repartitionBatchingWindow: "6 minutes" }))).toThrow(
      "repartitionBatchingWindow: must be between 0 and 300 seconds",
    );
  });

  it("gives the window function's mapping its own batch size, by default the source's", () => {
    expect(userSpending).toMatchObject({ batchSize: 10_000, repartitionBatchSize: 10_000 });
    expect(definePipeline(variant({ repartitionBatchSize: 1 }))).toMatchObject({
      batchSize: 10_000,
      repartitionBatchSize: 1,
    });
    for (const bad of [0, 10_001, 2.5])
      expect(() => definePipeline(variant({ repartitionBatchSize: bad }))).toThrow(
        `repartitionBatchSize: ${bad} must be an integer from 1 to 10000`,
      );
  });

  it.each([
    ["an unknown field", { windw: {} }, "pipeline 'user-spending': windw: unknown field"],
    [
      "slide larger than size",
      { window: { type: "sliding", size: "5 minutes", slide: "10 minutes" } },
      "window.slide: '10 minutes' is larger than window.size '5 minutes'",
    ],
    ["a negative watermark", { watermark: "-1 minutes" }, "watermark: must not be negative"],
    ["a duration without unit", { watermark: "10" }, "'10' is not a duration"],
    ["no source topic", { source: { topics: [] } }, "source: give either 'topics'"],
    [
      "a bad topic name",
      { source: { topics: ["bad topic"] } },
      "'bad topic' is not a valid topic name",
    ],
    [
      "a batch size over Lambda's limit",
      { source: { topics: ["t"], batchSize: 20_000 } },
      "source.batchSize: 20000 must be an integer from 1 to 10000",
    ],
    ["an unknown type", { schema: { user: "varchar" } }, "schema.user: unknown type 'varchar'"],
    [
      "an event time that is not a timestamp",
      { eventTime: "user" },
      "eventTime: 'user' must be a schema field of type timestamp",
    ],
    [
      "a group key not in the schema",
      { groupKey: "customer" },
      "groupKey: 'customer' is not a schema field",
    ],
    [
      "sum of a string",
      { aggregations: [{ fn: "sum", column: "action", as: "x" }] },
      "sum needs a numeric column; 'action' is string",
    ],
    [
      "an unknown aggregate",
      { aggregations: [{ fn: "median", column: "amount", as: "x" }] },
      "unknown function 'median'",
    ],
    [
      "a clashing output name",
      { aggregations: [{ fn: "count", as: "user" }] },
      "'user' is empty or already an output column",
    ],
    [
      "an output topic equal to the source",
      { output: { topic: "transactions" } },
      "output.topic: must differ from the source topics",
    ],
    [
      "a filter on an unknown column",
      { filter: { notNull: ["usr"] } },
      "filter: 'usr' is not a schema field",
    ],
    ["a bad emit mode", { emit: "complete" }, "emit: 'complete' must be 'final' or 'update'"],
  ])("rejects %s with a message naming the problem", (_case, change, message) => {
    expect(() => definePipeline(variant(change))).toThrow(PipelineDefinitionError);
    expect(() => definePipeline(variant(change))).toThrow(message);
  });
});
