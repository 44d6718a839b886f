import { describe, expect, it } from "vitest";
import { PipelineDefinitionError } from "../../../shared/pipeline/errors.ts";
import {
  checkStartingPosition,
  groupStartingOffsets,
  mappingStartingPosition,
  parseStartFrom,
} from "../../../shared/pipeline/starting-position.ts";

describe("mappingStartingPosition", () => {
  it.each([
    ["earliest", "TRIM_HORIZON"],
    ["latest", "LATEST"],
    [{ timestampMs: 1_735_732_800_000 }, { timestampMs: 1_735_732_800_000 }],
    // The offsets are committed on the group first; Lambda then ignores StartingPosition.
    [{ offsets: { transactions: { 0: 42 } } }, "TRIM_HORIZON"],
  ] as const)("maps %j to %j", (position, expected) => {
    expect(mappingStartingPosition("p", position)).toEqual(expected);
  });
});

describe("groupStartingOffsets", () => {
  it("gives one mapping's topics' offsets, nothing for the other forms", () => {
    const position = { offsets: { a: { 0: 1 }, b: { 0: -2 } } };
    expect(groupStartingOffsets(position, ["b"])).toEqual({ b: { 0: -2 } });
    expect(groupStartingOffsets("earliest", ["b"])).toBeUndefined();
    expect(groupStartingOffsets({ timestampMs: 1 }, ["b"])).toBeUndefined();
  });
});

describe("checkStartingPosition", () => {
  const check =
    (position: unknown, sources = ["transactions"], pattern?: RegExp) =>
    () =>
      checkStartingPosition("p", position as never, sources, pattern);

  it("accepts Spark's JSON form with -2 (earliest) and -1 (latest)", () => {
    expect(check({ offsets: { transactions: { 0: 23, 1: -2, 2: -1 } } })).not.toThrow();
    expect(check({ offsets: { "events-1": { 0: 5 } } }, [], /^events-.*$/)).not.toThrow();
  });

  it.each([
    [{ offsets: { other: { 0: 1 } } }, "'other', which is not a source topic"],
    [{ offsets: { transactions: { 0: -3 } } }, "transactions/0: -3 must be an offset"],
    [{ offsets: { transactions: { 0: 1.5 } } }, "transactions/0: 1.5 must be an offset"],
    [{ offsets: { transactions: { x: 1 } } }, "partition 'x' is not a number"],
    [{ offsets: {} }, "offsets name no topic"],
    [{ timestampMs: Number.NaN }, "must be epoch milliseconds"],
    ["beginning", "must be 'earliest', 'latest'"],
  ])("refuses %j", (position, message) => {
    expect(check(position)).toThrow(PipelineDefinitionError);
    expect(check(position)).toThrow(message);
  });

  it("refuses offsets that leave out a source topic, as Spark does", () => {
    expect(check({ offsets: { a: { 0: 1 } } }, ["a", "b"])).toThrow(
      "do not list source topic(s) b",
    );
  });
});

describe("parseStartFrom", () => {
  it.each([
    ["earliest", "earliest"],
    ["latest", "latest"],
    ["2026-11-30T12:00:00Z", { timestampMs: Date.UTC(2026, 10, 30, 12) }],
    ["2026-11-30T13:00:00+01:00", { timestampMs: Date.UTC(2026, 10, 30, 12) }],
    ['{"transactions":{"0":23,"1":-2}}', { offsets: { transactions: { 0: 23, 1: -2 } } }],
  ] as const)("parses %s", (text, expected) => {
    expect(parseStartFrom(text)).toEqual(expected);
  });

  it.each(["yesterday", "{not json", "1700000000000"])("refuses %s", (text) => {
    expect(() => parseStartFrom(text)).toThrow(PipelineDefinitionError);
  });
});
