import { describe, expect, it } from "vitest";
import { depsFromEnvironment } from "../../../shared/runtime/environment.ts";

const base = { PIPELINE_NAME: "user-spending", STATE_TABLE_NAME: "state", AWS_REGION: "eu-west-1" };

describe("a function's dependencies from its environment", () => {
  it("knows how many source partitions feed the pipeline from SOURCE_PARTITIONS", () => {
    // Act
    const deps = depsFromEnvironment("window", { ...base, SOURCE_PARTITIONS: "12" });

    // Assess
    expect(deps.expectedSources).toBe(12);
  });

  it("leaves the count unknown when SOURCE_PARTITIONS is unset", () => {
    expect(depsFromEnvironment("window", base).expectedSources).toBeUndefined();
  });

  it.each(["0", "-3", "2.5", "three"])("refuses SOURCE_PARTITIONS=%s, naming the key", (value) => {
    expect(() => depsFromEnvironment("window", { ...base, SOURCE_PARTITIONS: value })).toThrow(
      /SOURCE_PARTITIONS is .*positive integer/,
    );
  });
});
