import { describe, expect, it } from "vitest";
import { compileFilterCriteria } from "../../../localstack/esm/filter-criteria.ts";

const matches = (pattern: object, value: unknown) =>
  compileFilterCriteria({ Filters: [{ Pattern: JSON.stringify(pattern) }] })({
    value: typeof value === "string" ? value : JSON.stringify(value),
  });

describe("Lambda event filtering on a Kafka record's JSON value", () => {
  it.each([
    ["exact string", { value: { user: ["u1"] } }, { user: "u1" }, true],
    ["exact string, other value", { value: { user: ["u1"] } }, { user: "u2" }, false],
    ["one of several values", { value: { user: ["u1", "u2"] } }, { user: "u2" }, true],
    ["exact number", { value: { n: [5] } }, { n: 5 }, true],
    ["null", { value: { user: [null] } }, { user: null }, true],
    ["null does not match a missing field", { value: { user: [null] } }, {}, false],
    ["exists", { value: { user: [{ exists: true }] } }, { user: "u1" }, true],
    ["exists, missing", { value: { user: [{ exists: true }] } }, {}, false],
    ["not exists", { value: { user: [{ exists: false }] } }, {}, true],
    ["prefix", { value: { action: [{ prefix: "pur" }] } }, { action: "purchase" }, true],
    ["suffix", { value: { action: [{ suffix: "und" }] } }, { action: "refund" }, true],
    [
      "equals-ignore-case",
      { value: { action: [{ "equals-ignore-case": "BUY" }] } },
      { action: "buy" },
      true,
    ],
    [
      "anything-but",
      { value: { action: [{ "anything-but": ["refund"] }] } },
      { action: "buy" },
      true,
    ],
    [
      "anything-but, excluded",
      { value: { action: [{ "anything-but": ["refund"] }] } },
      { action: "refund" },
      false,
    ],
    [
      "anything-but prefix",
      { value: { action: [{ "anything-but": { prefix: "re" } }] } },
      { action: "refund" },
      false,
    ],
    [
      "numeric range",
      { value: { amount: [{ numeric: [">", 0, "<=", 100] }] } },
      { amount: 100 },
      true,
    ],
    [
      "numeric range, outside",
      { value: { amount: [{ numeric: [">", 0, "<=", 100] }] } },
      { amount: 101 },
      false,
    ],
    ["nested field", { value: { meta: { region: ["eu"] } } }, { meta: { region: "eu" } }, true],
    [
      "all fields must match",
      { value: { user: ["u1"], action: ["buy"] } },
      { user: "u1", action: "sell" },
      false,
    ],
    [
      "an array value matches when an element does",
      { value: { tags: ["a"] } },
      { tags: ["b", "a"] },
      true,
    ],
    [
      "a value that is not JSON never matches a value pattern",
      { value: { user: ["u1"] } },
      "{not json",
      false,
    ],
  ])("%s", (_case, pattern, value, expected) => {
    expect(matches(pattern, value)).toBe(expected);
  });

  it("keeps a record when any of several filters matches", () => {
    const keep = compileFilterCriteria({
      Filters: [
        { Pattern: JSON.stringify({ value: { user: ["a"] } }) },
        { Pattern: JSON.stringify({ value: { user: ["b"] } }) },
      ],
    });
    expect([
      keep({ value: '{"user":"a"}' }),
      keep({ value: '{"user":"b"}' }),
      keep({ value: '{"user":"c"}' }),
    ]).toEqual([true, true, false]);
  });
});
