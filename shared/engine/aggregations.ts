import type { AggregationSpec, Row } from "../pipeline/definition.ts";

/**
 * Aggregation state, plain JSON so it is stored in DynamoDB as is: one entry per aggregation.
 * `count` → number; `sum`, `min`, `max` → number or null (no non-null input yet, as Spark);
 * `avg` → [sum, count].
 */
export type AggState = Array<number | null | [number, number]>;

/** init / add / merge / result for a pipeline's aggregations (Spark semantics: nulls are skipped). */
export interface Aggregator {
  init(): AggState;
  /** Adds one row into `state` in place (the batch's own partial state). */
  add(state: AggState, row: Readonly<Row>): void;
  /** Combines two states into a new one: the stored state and a batch's partial one. */
  merge(a: AggState, b: AggState): AggState;
  /** The output values by name. */
  result(state: AggState): Record<string, number | null>;
}

/** Builds the aggregator of a pipeline's aggregation list. */
export function aggregatorFor(specs: readonly AggregationSpec[]): Aggregator {
  return {
    init: () => specs.map((spec) => (spec.fn === "count" ? 0 : spec.fn === "avg" ? [0, 0] : null)),
    add(state, row) {
      for (let i = 0; i < specs.length; i++) {
        const spec = specs[i] as AggregationSpec;
        const value = spec.column === undefined ? 1 : row[spec.column];
        if (value === null || value === undefined) continue;
        state[i] = step(spec.fn, state[i] ?? null, value as number);
      }
    },
    merge: (a, b) => specs.map((spec, i) => combine(spec.fn, a[i] ?? null, b[i] ?? null)),
    result(state) {
      const values: Record<string, number | null> = {};
      for (const [i, spec] of specs.entries()) {
        const s = state[i] ?? null;
        values[spec.as] = Array.isArray(s) ? (s[1] === 0 ? null : s[0] / s[1]) : s;
      }
      return values;
    },
  };
}

function step(fn: AggregationSpec["fn"], s: AggState[number], value: number): AggState[number] {
  switch (fn) {
    case "count":
      return (s as number) + 1;
    case "sum":
      return s === null ? value : (s as number) + value;
    case "min":
      return s === null ? value : Math.min(s as number, value);
    case "max":
      return s === null ? value : Math.max(s as number, value);
    case "avg": {
      const [sum, count] = s as [number, number];
      return [sum + value, count + 1];
    }
  }
}

function combine(
  fn: AggregationSpec["fn"],
  a: AggState[number],
  b: AggState[number],
): AggState[number] {
  if (fn === "avg") {
    const [sa, ca] = (a ?? [0, 0]) as [number, number];
    const [sb, cb] = (b ?? [0, 0]) as [number, number];
    return [sa + sb, ca + cb];
  }
  if (a === null) return b;
  if (b === null) return a;
  if (fn === "min") return Math.min(a as number, b as number);
  if (fn === "max") return Math.max(a as number, b as number);
  return (a as number) + (b as number); // count, sum
}
