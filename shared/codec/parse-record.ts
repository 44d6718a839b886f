import type { Row } from "../pipeline/definition.ts";
import type { Field } from "../pipeline/pipeline.ts";
import { epochSecondsToMs, parseIsoTimestampMs } from "./timestamps.ts";

/** A record's value parsed against the schema, or why it cannot be. */
export type ParseOutcome =
  | { readonly ok: true; readonly row: Row }
  | { readonly ok: false; readonly reason: string };

type Check = (value: unknown) => string | number | boolean | null | Rejection;

/** A rejection from a field check; a class so the hot path tells it apart with one `instanceof`. */
class Rejection {
  constructor(readonly problem: string) {}
}

const LONG_LIMIT = 2 ** 53; // beyond it a JSON number has lost digits in JavaScript
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/**
 * Compiles the schema once into a parser for record values: UTF-8 decode (invalid bytes are an
 * error, not U+FFFD), JSON parse, then one small check per field. The hot path walks an array of
 * checks; it never re-reads the definition.
 */
export function compileRecordParser(
  fields: readonly Field[],
): (value: Uint8Array | null) => ParseOutcome {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const names = fields.map((f) => f.name);
  const checks = fields.map((f) => checkFor(f));
  const count = fields.length;
  return (value) => {
    if (value === null || value.length === 0)
      return { ok: false, reason: "empty value (null or zero bytes)" };
    let text: string;
    try {
      text = decoder.decode(value);
    } catch {
      return { ok: false, reason: "value is not valid UTF-8" };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return { ok: false, reason: `malformed JSON: ${(error as Error).message}` };
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return { ok: false, reason: `value is not a JSON object (got ${describe(parsed)})` };
    }
    const input = parsed as Record<string, unknown>;
    const row: Row = {};
    for (let i = 0; i < count; i++) {
      const name = names[i] as string;
      const result = (checks[i] as Check)(input[name]);
      if (result instanceof Rejection)
        return { ok: false, reason: `field '${name}': ${result.problem}` };
      row[name] = result;
    }
    return { ok: true, row };
  };
}

function checkFor(field: Field): Check {
  const typed = typeCheck(field.type);
  const missing = field.nullable
    ? null
    : new Rejection("required (not nullable) but missing or null");
  return (value) => (value === undefined || value === null ? missing : typed(value));
}

function typeCheck(type: Field["type"]): (value: unknown) => string | number | boolean | Rejection {
  switch (type) {
    case "string":
      return (v) =>
        typeof v === "string" ? v : new Rejection(`expected a string, got ${describe(v)}`);
    case "boolean":
      return (v) =>
        typeof v === "boolean" ? v : new Rejection(`expected a boolean, got ${describe(v)}`);
    case "double":
      return (v) =>
        typeof v !== "number"
          ? new Rejection(`expected a double, got ${describe(v)}`)
          : Number.isFinite(v)
            ? v
            : new Rejection("number out of double range");
    case "long":
      return (v) =>
        typeof v !== "number" || !Number.isInteger(v)
          ? new Rejection(`expected a long (integer), got ${describe(v)}`)
          : Math.abs(v) >= LONG_LIMIT
            ? new Rejection("integer beyond ±2^53 cannot be read exactly")
            : v;
    case "int":
      return (v) =>
        typeof v !== "number" || !Number.isInteger(v)
          ? new Rejection(`expected an int, got ${describe(v)}`)
          : v < INT_MIN || v > INT_MAX
            ? new Rejection("integer out of int range (32 bits)")
            : v;
    case "timestamp":
      return (v) => {
        const ms =
          typeof v === "string"
            ? parseIsoTimestampMs(v)
            : typeof v === "number"
              ? epochSecondsToMs(v)
              : undefined;
        if (ms === undefined)
          return new Rejection(
            `expected a timestamp (ISO-8601 string or epoch seconds), got ${describe(v)}`,
          );
        return typeof ms === "number" ? ms : new Rejection(`timestamp ${ms}`);
      };
  }
}

/** Names a JSON value's kind without echoing it: record values never go into reasons or logs. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a number";
  return `a ${typeof value}`;
}
