import { describe, expect, it } from "vitest";
import { PipelineDefinitionError } from "../../../shared/pipeline/errors.ts";
import { mappingStartingPosition } from "../../../shared/pipeline/starting-position.ts";

describe("mappingStartingPosition", () => {
  it.each([
    ["earliest", "TRIM_HORIZON"],
    ["latest", "LATEST"],
    [{ timestampMs: 1_735_732_800_000 }, { timestampMs: 1_735_732_800_000 }],
  ] as const)("maps %j to %j", (position, expected) => {
    expect(mappingStartingPosition("p", position)).toEqual(expected);
  });

  it("refuses Spark's per-partition offsets, which Lambda's Kafka mappings cannot start from", () => {
    const offsets = { offsets: { transactions: { 0: 42 } } };
    expect(() => mappingStartingPosition("p", offsets)).toThrow(PipelineDefinitionError);
    expect(() => mappingStartingPosition("p", offsets)).toThrow(
      "use 'earliest', 'latest' or { timestampMs }",
    );
  });
});
