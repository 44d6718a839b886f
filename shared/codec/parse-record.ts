import type { FieldType, Row } from "../pipeline/definition.ts";
import type { Field } from "../pipeline/pipeline.ts";
import { decodeUtf8LikeJava } from "./java-utf8.ts";
import {
  canonicalInteger,
  floatValue,
  JsonScanner,
  JsonSyntaxError,
  TOKEN,
  type Token,
} from "./json-scanner.ts";
import { javaDouble } from "./spark-json.ts";
import { epochSecondsToMs, sparkTimestampMs } from "./timestamps.ts";

/** A field Spark's `from_json` sets to null because its JSON token does not fit the type. */
export interface Coercion {
  readonly field: string;
  /** What was there, e.g. `string for double` (never the value itself). */
  readonly reason: string;
}

/**
 * A record's value read as Spark's `from_json(value, schema)` (PERMISSIVE) reads it: the row,
 * with the fields it coerced to null; or, when Spark's row is all null (malformed JSON, not an
 * object, no field of the schema, every field null), why.
 */
export type ParseOutcome =
  | { readonly ok: true; readonly row: Row; readonly coerced: readonly Coercion[] }
  | { readonly ok: false; readonly reason: string };

export interface RecordParserOptions {
  /** The clock for timestamps written as a time alone (Spark gives them today's date). */
  readonly nowMs?: () => number;
}

const NONE: readonly Coercion[] = Object.freeze([]);

/** A conversion Spark refuses: the field keeps its earlier value (or null). */
class Refused {
  constructor(readonly reason: string) {}
}

type Value = string | number | boolean | null;

/**
 * Compiles a schema into a parser of record values that gives, field for field, the row Spark
 * 3.5's `from_json` gives with default options and session time zone UTC (checked against
 * PySpark by test/spark):
 *
 * - the bytes are decoded as Java does (malformed UTF-8 becomes U+FFFD; a BOM is not skipped);
 * - the first JSON value is read with Jackson's grammar and Spark's default extensions (single
 *   quotes, NaN/Infinity); anything after it is ignored; a syntax error anywhere in it, or a value
 *   that is not an object, makes the whole row null;
 * - a field whose token does not fit its type is null, the rest of the row is kept; with
 *   duplicate keys the last one that converts wins;
 * - STRING keeps any token (a number or object as its JSON text); DOUBLE takes numbers and the
 *   strings NaN, Infinity, +Infinity, +INF, -Infinity, -INF; LONG and INT integers in range;
 *   BOOLEAN true/false; TIMESTAMP strings by Spark's cast rules and integers as epoch seconds.
 *
 * One deviation: a LONG beyond ±(2^53 − 1), which a JavaScript number cannot hold exactly, is
 * refused (null, counted as coerced) where Spark keeps it.
 */
export function compileRecordParser(
  fields: readonly Field[],
  options: RecordParserOptions = {},
): (value: Uint8Array | null) => ParseOutcome {
  const nowMs = options.nowMs ?? Date.now;
  const index = new Map(fields.map((f, i) => [f.name, i]));
  const types = fields.map((f) => f.type);
  const scanner = new JsonScanner();
  const values: Array<Value | undefined> = new Array(fields.length);
  const refused: Array<string | undefined> = new Array(fields.length);

  const convert = (type: FieldType, token: Token): Value | Refused => {
    if (token === TOKEN.null) return null;
    switch (type) {
      case "string":
        return toStringField(scanner, token);
      case "double":
        return toDouble(scanner, token);
      case "long":
        return toLong(scanner, token);
      case "int":
        return toInt(scanner, token);
      case "boolean":
        return token === TOKEN.true
          ? true
          : token === TOKEN.false
            ? false
            : refuse(scanner, token, type);
      case "timestamp":
        return toTimestamp(scanner, token, nowMs);
    }
  };

  return (value) => {
    if (value === null) return { ok: false, reason: "null value (a tombstone)" };
    if (value.length === 0) return { ok: false, reason: "empty value (zero bytes)" };
    const text = decodeUtf8LikeJava(value);
    const fast = fastPath(text, fields, nowMs);
    if (fast !== undefined) return fast;
    scanner.reset(text);
    values.fill(undefined);
    refused.fill(undefined);
    try {
      const notObject = rootProblem(scanner);
      if (notObject !== undefined) return { ok: false, reason: notObject };
      for (let name = scanner.fieldName(true); name !== undefined; ) {
        const i = index.get(name);
        const token = scanner.token();
        if (i === undefined) scanner.skip(token);
        else {
          const result = convert(types[i] as FieldType, token);
          if (result instanceof Refused) {
            // Spark leaves the field as it was: an earlier duplicate's value survives.
            if (values[i] === undefined) refused[i] = result.reason;
          } else {
            values[i] = result;
            refused[i] = undefined;
          }
        }
        name = scanner.fieldName(false);
      }
    } catch (error) {
      if (error instanceof JsonSyntaxError)
        return { ok: false, reason: `malformed JSON: ${error.message}` };
      throw error;
    }
    return assemble(fields, values, refused);
  };
}

/**
 * Most records are plain JSON whose fields already have the right JavaScript type; for those
 * `JSON.parse` (native, several times faster than the scanner) gives Spark's row. It gives up —
 * undefined, the scanner decides — wherever the two could differ: anything JSON.parse refuses
 * (Spark's extensions, trailing content), a value over 1,000 characters (it could nest deeper or
 * hold a longer number than Jackson allows), a number in a long, int or timestamp field
 * (JSON.parse cannot tell 1 from 1.0), −0, a lone surrogate, an all-null row, and any field
 * whose type does not fit (Spark may keep an earlier duplicate).
 */
function fastPath(
  text: string,
  fields: readonly Field[],
  nowMs: () => number,
): ParseOutcome | undefined {
  if (text.length > 1000) return undefined; // no 1,001-character number, no 1,000-deep nesting
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  const row: Row = {};
  let present = false;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as Field;
    const v = (input as Record<string, unknown>)[field.name];
    let out: Value;
    if (v === null || v === undefined) out = null;
    else if (field.type === "string" && typeof v === "string" && !SURROGATE.test(v)) out = v;
    else if (field.type === "double" && typeof v === "number" && !Object.is(v, -0)) out = v;
    else if (field.type === "boolean" && typeof v === "boolean") out = v;
    else if (field.type === "timestamp" && typeof v === "string" && v.length > 0) {
      const ms = sparkTimestampMs(v, nowMs());
      if (ms === undefined) return undefined;
      out = ms;
    } else return undefined;
    if (out !== null) present = true;
    row[field.name] = out;
  }
  return present ? { ok: true, row, coerced: NONE } : undefined;
}

/** Why the value is not an object (after reading its first token), or undefined at `{`. */
function rootProblem(scanner: JsonScanner): string | undefined {
  const first = scanner.peek();
  if (first === -1) return "value is only whitespace";
  if (first === 0xfeff) return "value starts with a byte-order mark (Spark does not skip it)";
  const token = scanner.token();
  if (token === TOKEN.object) return undefined;
  return `value is not a JSON object (got ${KIND[token]})`;
}

const KIND: Readonly<Record<Token, string>> = {
  [TOKEN.string]: "a string",
  [TOKEN.int]: "an integer",
  [TOKEN.float]: "a decimal number",
  [TOKEN.true]: "a boolean",
  [TOKEN.false]: "a boolean",
  [TOKEN.null]: "null",
  [TOKEN.object]: "an object",
  [TOKEN.array]: "an array",
};

function assemble(
  fields: readonly Field[],
  values: ReadonlyArray<Value | undefined>,
  refused: ReadonlyArray<string | undefined>,
): ParseOutcome {
  const row: Row = {};
  let coerced: Coercion[] | undefined;
  let present = false;
  let seen = false;
  for (let i = 0; i < fields.length; i++) {
    const name = (fields[i] as Field).name;
    const v = values[i];
    row[name] = v ?? null;
    if (v !== undefined) seen = true;
    if (v !== undefined && v !== null) present = true;
    const reason = refused[i];
    if (reason !== undefined) {
      seen = true;
      coerced ??= [];
      coerced.push({ field: name, reason });
    }
  }
  if (!present) {
    const why = coerced ? `: ${coerced.map((c) => `${c.field} (${c.reason})`).join(", ")}` : "";
    return {
      ok: false,
      reason: seen
        ? `every schema field is null${why}`
        : "no schema field in the object (Spark reads an all-null row)",
    };
  }
  return { ok: true, row, coerced: coerced ?? NONE };
}

/** The kind of token a field refused, for reasons: never the value itself. */
function tokenKind(scanner: JsonScanner, token: Token): string {
  if (token === TOKEN.string) return scanner.value.length === 0 ? "empty string" : "string";
  if (token === TOKEN.float && !/[0-9]/.test(scanner.value)) return scanner.value;
  return KIND[token].replace(/^an? /, "");
}

function refuse(scanner: JsonScanner, token: Token, type: FieldType): Refused {
  const kind = tokenKind(scanner, token);
  if (token === TOKEN.object || token === TOKEN.array) scanner.skip(token);
  return new Refused(`${kind} for ${type}`);
}

const SURROGATE = /[\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function toStringField(scanner: JsonScanner, token: Token): string {
  if (token === TOKEN.string) {
    const s = scanner.value;
    // Spark stores UTF-8: a lone surrogate (from a \ud800 escape) becomes '?'.
    return SURROGATE.test(s) ? s.replace(LONE_SURROGATE, "?") : s;
  }
  if (token === TOKEN.int) return canonicalInteger(scanner.value);
  if (token === TOKEN.float) return javaDouble(floatValue(scanner.value));
  return scanner.copy(token);
}

const DOUBLE_WORDS: Readonly<Record<string, number>> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  "+Infinity": Number.POSITIVE_INFINITY,
  "+INF": Number.POSITIVE_INFINITY,
  "-Infinity": Number.NEGATIVE_INFINITY,
  "-INF": Number.NEGATIVE_INFINITY,
};

function toDouble(scanner: JsonScanner, token: Token): number | Refused {
  if (token === TOKEN.float) return floatValue(scanner.value);
  if (token === TOKEN.int) {
    const n = Number(scanner.value);
    return n === 0 ? 0 : n; // an integer -0 is the long 0, then 0.0
  }
  if (token === TOKEN.string) {
    const word = DOUBLE_WORDS[scanner.value];
    if (word !== undefined) return word;
  }
  return refuse(scanner, token, "double");
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function toLong(scanner: JsonScanner, token: Token): number | Refused {
  if (token !== TOKEN.int) return refuse(scanner, token, "long");
  const n = Number(scanner.value);
  if (Number.isSafeInteger(n)) return n === 0 ? 0 : n;
  const big = BigInt(scanner.value);
  return new Refused(
    big < LONG_MIN || big > LONG_MAX
      ? "integer out of long range for long"
      : "integer beyond ±2^53 for long (not exact in JavaScript)",
  );
}

function toInt(scanner: JsonScanner, token: Token): number | Refused {
  if (token !== TOKEN.int) return refuse(scanner, token, "int");
  const n = Number(scanner.value);
  if (n >= -2_147_483_648 && n <= 2_147_483_647) return n === 0 ? 0 : n;
  return new Refused("integer out of int range for int");
}

function toTimestamp(scanner: JsonScanner, token: Token, nowMs: () => number): number | Refused {
  if (token === TOKEN.string && scanner.value.length > 0) {
    const ms = sparkTimestampMs(scanner.value, nowMs());
    return ms ?? new Refused("string not a timestamp for timestamp");
  }
  if (token === TOKEN.int) {
    const ms = epochSecondsToMs(scanner.value);
    return ms ?? new Refused("integer out of long range for timestamp");
  }
  return refuse(scanner, token, "timestamp");
}
