import { describe, expect, it } from "vitest";
import { compareValueBytes } from "../../../test/bench/e2e/measure.ts";

// The end-to-end bench's byte-for-byte check of output values against Spark's.
describe("compareValueBytes", () => {
  it("counts the windows both wrote and how many values are the same bytes", () => {
    const W = '{"window":{"start":"2025-01-01T12:00:00.000Z","end":"2025-01-01T12:05:00.000Z"}';
    const ours = new Map([
      ["u1|0|1", `${W},"user":"u1","total_spent":12.5}`],
      ["u2|0|1", `${W},"user":"u2","total_spent":0.30000000000000004}`],
      ["u3|0|1", `${W},"user":"u3","total_spent":1.0}`],
    ]);
    const spark = new Map([
      ["u1|0|1", `${W},"user":"u1","total_spent":12.5}`],
      ["u2|0|1", `${W},"user":"u2","total_spent":0.3}`], // another summation order
      ["u4|0|1", `${W},"user":"u4","total_spent":2.0}`],
    ]);
    expect(compareValueBytes(ours, spark)).toEqual({
      inBoth: 2,
      byteIdentical: 1,
      examples: [{ ours: ours.get("u2|0|1"), spark: spark.get("u2|0|1") }],
    });
  });
});
