import { describe, expect, it } from "vitest";
import { aggregatorFor } from "../../../shared/engine/aggregations.ts";

const aggregator = aggregatorFor([
  { fn: "count", as: "events" },
  { fn: "count", column: "amount", as: "amounts" },
  { fn: "sum", column: "amount", as: "total" },
  { fn: "min", column: "amount", as: "least" },
  { fn: "max", column: "amount", as: "most" },
  { fn: "avg", column: "amount", as: "mean" },
]);

function stateOf(amounts: Array<number | null>) {
  const state = aggregator.init();
  for (const amount of amounts) aggregator.add(state, { amount });
  return state;
}

describe("aggregations (Spark semantics: nulls skipped)", () => {
  it.each([
    ["empty", [], { events: 0, amounts: 0, total: null, least: null, most: null, mean: null }],
    [
      "only nulls",
      [null, null],
      { events: 2, amounts: 0, total: null, least: null, most: null, mean: null },
    ],
    [
      "values and a null",
      [2, null, 6, -1],
      { events: 4, amounts: 3, total: 7, least: -1, most: 6, mean: 7 / 3 },
    ],
  ])("result of %s", (_case, amounts, expected) => {
    expect(aggregator.result(stateOf(amounts))).toEqual(expected);
  });

  it.each([
    ["stored + batch", [2, 6], [-1, null]],
    ["empty stored + batch", [], [3, 4]],
    ["stored + empty batch", [5], []],
    ["nulls on one side", [null], [7]],
  ])("merge(%s) equals aggregating everything at once", (_case, stored, batch) => {
    const merged = aggregator.merge(stateOf(stored), stateOf(batch));
    expect(aggregator.result(merged)).toEqual(aggregator.result(stateOf([...stored, ...batch])));
  });

  it("keeps state plain JSON, as DynamoDB stores it", () => {
    const state = stateOf([1, 2]);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });

  // Spark 3.5.7, measured (test/spark/corpus.ts "NaN and infinities"): NaN is larger than every
  // other double in min/max, sum and avg follow IEEE 754, count counts NaN; of two equal zeros
  // min/max keep the first.
  it.each([
    [
      "NaN among values",
      [1, Number.NaN, 5],
      { total: Number.NaN, least: 1, most: Number.NaN, mean: Number.NaN },
    ],
    [
      "only NaN",
      [Number.NaN],
      { total: Number.NaN, least: Number.NaN, most: Number.NaN, mean: Number.NaN },
    ],
    [
      "±Infinity",
      [Infinity, -Infinity],
      { total: Number.NaN, least: -Infinity, most: Infinity, mean: Number.NaN },
    ],
    [
      "Infinity and a value",
      [Infinity, 1],
      { total: Infinity, least: 1, most: Infinity, mean: Infinity },
    ],
    [
      "-Infinity and NaN",
      [-Infinity, Number.NaN],
      { total: Number.NaN, least: -Infinity, most: Number.NaN, mean: Number.NaN },
    ],
    ["0.0 then -0.0", [0, -0], { total: 0, least: 0, most: 0, mean: 0 }],
    ["-0.0 then 0.0", [-0, 0], { total: 0, least: -0, most: -0, mean: 0 }],
  ])(
    "%s: Spark's results, after a JSON round trip of the state and across merges",
    (_case, amounts, expected) => {
      // Act: all at once, through JSON (DynamoDB's entries), and one value per batch merged.
      const direct = aggregator.result(stateOf(amounts));
      const stored = aggregator.result(JSON.parse(JSON.stringify(stateOf(amounts))));
      const merged = aggregator.result(
        amounts.reduce(
          (state, amount) => JSON.parse(JSON.stringify(aggregator.merge(state, stateOf([amount])))),
          aggregator.init(),
        ),
      );

      // Assess: toEqual tells NaN apart from null, and −0 from 0 (Object.is).
      for (const result of [direct, stored, merged]) {
        expect(result).toEqual({ events: amounts.length, amounts: amounts.length, ...expected });
      }
    },
  );
});
