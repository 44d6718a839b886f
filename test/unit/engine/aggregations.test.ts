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
});
