import { describe, expect, it } from "vitest";
import { javaDouble, sparkJsonEncoder } from "../../../shared/codec/spark-json.ts";

describe("sparkJsonEncoder: Spark's to_json(struct(window, key, aggregates))", () => {
  it("writes the default pipeline's result exactly as Spark does", () => {
    const encode = sparkJsonEncoder("user", [{ name: "total_spent", double: true }]);
    const json = encode({
      groupKey: "u1",
      windowStartMs: Date.UTC(2025, 0, 1, 12),
      windowEndMs: Date.UTC(2025, 0, 1, 12, 5),
      values: { total_spent: 12.5 },
    });
    expect(json).toBe(
      '{"window":{"start":"2025-01-01T12:00:00.000Z","end":"2025-01-01T12:05:00.000Z"},"user":"u1","total_spent":12.5}',
    );
  });

  it("prints longs as integers, doubles with a decimal, nulls as null, keys escaped", () => {
    const encode = sparkJsonEncoder("k", [
      { name: "n", double: false },
      { name: "d", double: true },
      { name: "z", double: true },
    ]);
    expect(
      encode({
        groupKey: 'a"b',
        windowStartMs: 0,
        windowEndMs: 1,
        values: { n: 3, d: 12, z: null },
      }),
    ).toBe(
      '{"window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:00:00.001Z"},"k":"a\\"b","n":3,"d":12.0,"z":null}',
    );
  });
});

describe("javaDouble: Double.toString, as Spark's JSON writer prints doubles", () => {
  it.each([
    [12.5, "12.5"],
    [12, "12.0"],
    [0, "0.0"],
    [-3, "-3.0"],
    [0.001, "0.001"],
    [0.0001, "1.0E-4"],
    [9_999_999, "9999999.0"],
    [10_000_000, "1.0E7"],
    [12_345_678.9, "1.23456789E7"],
    [1e21, "1.0E21"],
  ])("%d → %s", (value, expected) => {
    expect(javaDouble(value)).toBe(expected);
  });
});
