import type { FieldType, WindowResult } from "../pipeline/definition.ts";
import { javaDoubleString } from "./java-double.ts";

/** Encodes a window result as the output record's value. */
export type SparkJsonEncoder = (result: WindowResult) => string;

/** An output column and how Spark types it. */
export interface OutputColumn {
  readonly name: string;
  /** A double (sum/min/max of doubles, avg), else a long (counts, sums of integers). */
  readonly double: boolean;
  /**
   * Spark's `sum` and `avg` add onto 0.0 (`coalesce(sum, 0) + x`), so they never end at −0.0
   * even when every input is −0.0 (measured); `min`/`max` keep it.
   */
  readonly neverNegativeZero?: boolean;
}

/**
 * The JSON Spark's `to_json(struct(window, <group key>, <aggregates>))` writes with session time
 * zone UTC, byte for byte: timestamps as `yyyy-MM-dd'T'HH:mm:ss.SSSXXX`, doubles as Java prints
 * them (`12.0`, `1.0E7`, `"NaN"`, `"-Infinity"`), longs as integers, null fields left out
 * (`ignoreNullFields` defaults to true), the group key as its schema type writes it.
 */
export function sparkJsonEncoder(
  groupKey: string,
  columns: readonly OutputColumn[],
  groupKeyType?: FieldType,
  /** `session_window` for session windows (Spark's column name). */
  windowColumn: "window" | "session_window" = "window",
): SparkJsonEncoder {
  const keyName = jsonText(groupKey, false);
  const names = columns.map((c) => jsonText(c.name, false));
  const key = keyWriter(groupKeyType);
  return (result) => {
    let json = `{"${windowColumn}":{"start":"${isoMs(result.windowStartMs)}","end":"${isoMs(result.windowEndMs)}"},${keyName}:${key(result.groupKey)}`;
    for (const [i, column] of columns.entries()) {
      const value = result.values[column.name];
      if (value === null || value === undefined) continue;
      const text = !column.double
        ? String(value)
        : javaDouble(column.neverNegativeZero && value === 0 ? 0 : value);
      json += `,${names[i]}:${text}`;
    }
    return `${json}}`;
  };
}

/** How the group key's text (`String(value)` of the row's value) is written, by its type. */
function keyWriter(type: FieldType | undefined): (key: string) => string {
  switch (type) {
    case "long":
    case "int":
    case "boolean":
      return (key) => key;
    case "double":
      return (key) => javaDouble(Number(key));
    case "timestamp":
      return (key) => `"${isoMs(Number(key))}"`;
    default:
      return (key) => jsonText(key, false);
  }
}

/**
 * The text Spark's `CAST(<group key> AS STRING)` gives a group key (session time zone UTC), from
 * the key's text in state (`String(value)` of the row's value): doubles as Java prints them
 * (`1.0E7`, `0.1`, `1.0`, `NaN`, `-Infinity`; −0.0 groups with 0.0, as `0.0`), timestamps as
 * `2025-01-01 12:00:00.5` (fraction without trailing zeros, none when zero), longs, ints,
 * booleans and strings as they are. Measured on Spark 3.5.7 (test/spark/group-keys.test.ts).
 */
export function sparkKeyText(type: FieldType | undefined): (key: string) => string {
  switch (type) {
    case "double":
      return (key) => {
        const value = Number(key);
        return Number.isFinite(value) ? javaDoubleString(value) : String(value);
      };
    case "timestamp":
      return (key) => {
        const iso = isoMs(Number(key));
        const t = iso.indexOf("T");
        const fraction = iso.slice(t + 9, -1).replace(/\.?0+$/, "");
        return `${iso.slice(0, t)} ${iso.slice(t + 1, t + 9)}${fraction}`;
      };
    default:
      return (key) => key;
  }
}

/**
 * Epoch ms as Spark prints a UTC timestamp in JSON. Years outside 0000–9999: Spark writes
 * `+10000-01-01…` and `-0001-12-31…` where JavaScript writes `+010000` and `-000001`.
 */
export function isoMs(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return iso.length === 24
    ? iso
    : iso.replace(/^([+-])0*(\d{4,})/, (_, sign: string, year: string) =>
        sign === "-" || year.length > 4 ? `${sign}${year}` : year,
      );
}

const HEX = "0123456789ABCDEF";
const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  8: "\\b",
  9: "\\t",
  10: "\\n",
  12: "\\f",
  13: "\\r",
  34: '\\"',
  92: "\\\\",
};
const unicodeEscape = (c: number) =>
  `\\u${HEX[(c >> 12) & 15]}${HEX[(c >> 8) & 15]}${HEX[(c >> 4) & 15]}${HEX[c & 15]}`;

/**
 * A string as Jackson 2.15 writes it: `"` and `\` escaped, control characters as `\n`-style or
 * upper-case `\u001F`, everything else as is (`/`, U+2028, non-ASCII). Its UTF-8 generator (which
 * Spark uses to keep a nested value's JSON text) also writes surrogates as `\uD83D\uDE00`;
 * `to_json`'s writer-based one keeps them.
 */
export function jsonText(value: string, escapeSurrogates: boolean): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 32 && c !== 34 && c !== 92 && (c < 0xd800 || c > 0xdfff || !escapeSurrogates))
      continue;
    out += value.slice(start, i) + (SHORT_ESCAPES[c] ?? unicodeEscape(c));
    start = i + 1;
  }
  return `${out + value.slice(start)}"`;
}

/**
 * A double as Spark's JSON writer prints it: Java 17's `Double.toString` (plain notation with at
 * least one decimal for 1e-3 <= |x| < 1e7, else `d.dddE±n`, and Java 17's own digits), with NaN
 * and the infinities quoted.
 */
export function javaDouble(value: number): string {
  if (Number.isNaN(value)) return '"NaN"';
  if (!Number.isFinite(value)) return value > 0 ? '"Infinity"' : '"-Infinity"';
  return javaDoubleString(value);
}
