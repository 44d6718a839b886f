import { describe, expect, it } from "vitest";
import { PipelineDefinitionError } from "../../../shared/pipeline/errors.ts";
import { pipelineGeneration } from "../../../shared/pipeline/generation.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";

describe("pipelineGeneration", () => {
  it("keeps generation 1 as defined", () => {
    expect(pipelineGeneration(userSpending, { generation: 1 })).toBe(userSpending);
  });

  it("names everything a later generation owns after it, and starts and writes where told", () => {
    const g2 = pipelineGeneration(userSpending, {
      generation: 2,
      startFrom: { offsets: { transactions: { 0: 5, 1: -2 } } },
      outputTopic: "user-spending-rerun",
    });
    expect(g2.name).toBe("user-spending-g2");
    expect(g2.topics).toMatchObject({
      sources: ["transactions"],
      repartition: "user-spending-g2.repartition",
      deadLetter: "user-spending-g2.dlq",
      late: "user-spending-g2.late",
      output: "user-spending-rerun",
    });
    expect(g2.startingPosition).toEqual({ offsets: { transactions: { 0: 5, 1: -2 } } });
  });

  it.each([
    [{ generation: 0 }, "from 1 to 9999"],
    [{ generation: 2, startFrom: { offsets: { other: { 0: 1 } } } }, "not a source topic"],
    [{ generation: 2, outputTopic: "transactions" }, "must differ from the source topics"],
  ])("refuses %j", (settings, message) => {
    expect(() => pipelineGeneration(userSpending, settings)).toThrow(PipelineDefinitionError);
    expect(() => pipelineGeneration(userSpending, settings)).toThrow(message);
  });
});
