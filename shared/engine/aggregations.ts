import type { AggregationSpec, Row } from "../pipeline/definition.ts";

/**
 * A number as aggregation state holds it: a JSON number, or, for the doubles JSON has no number
 * for, their Java text (`"NaN"`, `"Infinity"`, `"-Infinity"`, `"-0.0"`), which `Number()` reads
 * back. `JSON.stringify` would write NaN and the infinities as `null` and −0 as `0`, so a sum over
 * a NaN would come back from DynamoDB as "no input yet".
 */
export type StateNumber = number | "NaN" | "Infinity" | "-Infinity" | "-0.0";

/**
 * Aggregation state, plain JSON so it is stored in DynamoDB as is (and survives any JSON round
 * trip): one entry per aggregation. `count` → number; `sum`, `min`, `max` → {@link StateNumber}
 * or null (no non-null input yet, as Spark); `avg` → [sum, count].
 */
export type AggState = Array<StateNumber | null | [StateNumber, number]>;

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
        values[spec.as] = Array.isArray(s)
          ? s[1] === 0
            ? null
            : numberOf(s[0]) / s[1]
          : s === null
            ? null
            : numberOf(s);
      }
      return values;
    },
  };
}

/** A state number's value. */
export function numberOf(s: StateNumber): number {
  return typeof s === "number" ? s : Number(s);
}

/** A number as state keeps it (see {@link StateNumber}). */
export function stateNumber(x: number): StateNumber {
  if (Number.isFinite(x)) return Object.is(x, -0) ? "-0.0" : x;
  return Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity";
}

/**
 * Spark's order of doubles for `min`/`max`: NaN is larger than any other value (Infinity
 * included) and equal to itself; −0.0 equals 0.0. Spark's `least`/`greatest` replace the running
 * value only when the new one is strictly smaller/larger, so of two equal zeros the first stays
 * (measured on Spark 3.5.7: min over [0.0, −0.0] is 0.0, over [−0.0, 0.0] is −0.0).
 */
function less(a: number, b: number): boolean {
  return Number.isNaN(a) ? false : Number.isNaN(b) || a < b;
}

function step(fn: AggregationSpec["fn"], s: AggState[number], value: number): AggState[number] {
  switch (fn) {
    case "count":
      return (s as number) + 1;
    case "sum":
      return stateNumber(s === null ? value : numberOf(s as StateNumber) + value);
    case "min":
      return s === null || less(value, numberOf(s as StateNumber)) ? stateNumber(value) : s;
    case "max":
      return s === null || less(numberOf(s as StateNumber), value) ? stateNumber(value) : s;
    case "avg": {
      const [sum, count] = s as [StateNumber, number];
      return [stateNumber(numberOf(sum) + value), count + 1];
    }
  }
}

function combine(
  fn: AggregationSpec["fn"],
  a: AggState[number],
  b: AggState[number],
): AggState[number] {
  if (fn === "avg") {
    const [sa, ca] = (a ?? [0, 0]) as [StateNumber, number];
    const [sb, cb] = (b ?? [0, 0]) as [StateNumber, number];
    return [stateNumber(numberOf(sa) + numberOf(sb)), ca + cb];
  }
  if (a === null) return b;
  if (b === null) return a;
  const x = numberOf(a as StateNumber);
  const y = numberOf(b as StateNumber);
  if (fn === "min") return less(y, x) ? b : a;
  if (fn === "max") return less(x, y) ? b : a;
  return stateNumber(x + y); // count, sum
}
