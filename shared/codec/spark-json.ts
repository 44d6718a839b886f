import type { WindowResult } from "../pipeline/definition.ts";

/** Encodes a window result as the output record's value. */
export type SparkJsonEncoder = (result: WindowResult) => string;

/** An output column and whether Spark types it as a double (else a long: counts, integer sums). */
export interface OutputColumn {
  readonly name: string;
  readonly double: boolean;
}

/**
 * The JSON Spark's `to_json(struct(window, <group key>, <aggregates>))` writes with session time
 * zone UTC, byte for byte: timestamps as `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, doubles as Java prints
 * them (`12.0`, `1.0E7`), longs as integers, null aggregates kept as `null`.
 */
export function sparkJsonEncoder(
  groupKey: string,
  columns: readonly OutputColumn[],
): SparkJsonEncoder {
  const keyName = JSON.stringify(groupKey);
  const names = columns.map((c) => JSON.stringify(c.name));
  return (result) => {
    let json = `{"window":{"start":"${isoMs(result.windowStartMs)}","end":"${isoMs(result.windowEndMs)}"},${keyName}:${JSON.stringify(result.groupKey)}`;
    for (const [i, column] of columns.entries()) {
      const value = result.values[column.name];
      const text =
        value === null || value === undefined
          ? "null"
          : column.double
            ? javaDouble(value)
            : String(value);
      json += `,${names[i]}:${text}`;
    }
    return `${json}}`;
  };
}

/** Epoch ms as Spark prints a UTC timestamp in JSON. */
export function isoMs(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/**
 * A double as Java's `Double.toString` (which Spark's JSON writer uses) prints it: plain notation
 * with at least one decimal for 1e-3 <= |x| < 1e7, else `d.dddE±n`.
 */
export function javaDouble(value: number): string {
  if (Number.isNaN(value)) return '"NaN"';
  if (!Number.isFinite(value)) return value > 0 ? '"Infinity"' : '"-Infinity"';
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    const plain = String(value);
    return plain.includes(".") ? plain : `${plain}.0`;
  }
  const [mantissa = "", exponent = "0"] = value.toExponential().split("e");
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}
