import type { Row } from "../pipeline/definition.ts";
import type { Field } from "../pipeline/pipeline.ts";
import { epochSecondsToMs, parseIsoTimestampMs } from "./timestamps.ts";

/** A record's value parsed against the schema, or why it cannot be. */
export type ParseOutcome =
  | { readonly ok: true; readonly row: Row }
  | { readonly ok: false; readonly reason: string };

const LONG_LIMIT = 2 ** 53; // beyond it a JSON number has lost digits in JavaScript
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/**
 * Compiles the schema once into a parser for record values: UTF-8 decode (invalid bytes are an
 * error, not U+FFFD), JSON parse, then a validator generated for this schema — straight-line code
 * with one inline check per field building a row of fixed shape — so the hot path never walks the
 * definition and V8 sees one monomorphic function.
 */
export function compileRecordParser(
  fields: readonly Field[],
): (value: Uint8Array | null) => ParseOutcome {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const validate = generateValidator(fields);
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
    return validate(parsed as Record<string, unknown>);
  };
}

type Validator = (input: Record<string, unknown>) => ParseOutcome;

// Per type: a JavaScript condition on `v` that accepts the value, and the problem when it does not.
const ACCEPT: Record<Field["type"], string> = {
  string: 'typeof v === "string"',
  boolean: 'typeof v === "boolean"',
  double: 'typeof v === "number" && Number.isFinite(v)',
  long: `Number.isInteger(v) && Math.abs(v) < ${LONG_LIMIT}`,
  int: `Number.isInteger(v) && v >= ${INT_MIN} && v <= ${INT_MAX}`,
  timestamp: "false", // handled apart: it converts
};

function generateValidator(fields: readonly Field[]): Validator {
  const lines: string[] = ["let v, t;"];
  for (const [i, field] of fields.entries()) {
    const name = JSON.stringify(field.name);
    lines.push(`v = input[${name}];`);
    lines.push(
      `if (v === undefined || v === null) { ${field.nullable ? `f${i} = null;` : `return reject(${i}, "required (not nullable) but missing or null");`} }`,
    );
    if (field.type === "timestamp") {
      lines.push(
        `else { t = timestamp(v); if (typeof t !== "number") return reject(${i}, t); f${i} = t; }`,
      );
    } else {
      lines.push(
        `else if (${ACCEPT[field.type]}) f${i} = v; else return reject(${i}, problem(${JSON.stringify(field.type)}, v));`,
      );
    }
  }
  const shape = fields.map((f, i) => `${JSON.stringify(f.name)}: f${i}`).join(", ");
  const body = [
    fields.map((_, i) => `let f${i};`).join(" "),
    ...lines,
    `return { ok: true, row: { ${shape} } };`,
  ].join("\n");
  const names = fields.map((f) => f.name);
  const reject = (i: number, problem: string): ParseOutcome => ({
    ok: false,
    reason: `field '${names[i]}': ${problem}`,
  });
  const factory = new Function(
    "reject",
    "timestamp",
    "problem",
    `return function validate(input) {\n${body}\n};`,
  ) as (
    rejectFn: typeof reject,
    timestamp: typeof timestampProblem,
    problem: typeof typeProblem,
  ) => Validator;
  return factory(reject, timestampProblem, typeProblem);
}

/** A timestamp field's value in epoch ms, or the problem with it. */
function timestampProblem(v: unknown): number | string {
  if (typeof v === "string") {
    const ms = parseIsoTimestampMs(v);
    return typeof ms === "number" ? ms : `timestamp ${ms}`;
  }
  if (typeof v === "number") {
    const ms = epochSecondsToMs(v);
    return typeof ms === "number" ? ms : `timestamp ${ms}`;
  }
  return `expected a timestamp (ISO-8601 string or epoch seconds), got ${describe(v)}`;
}

/** Why a value does not fit a (non-timestamp) type. */
function typeProblem(type: Field["type"], v: unknown): string {
  switch (type) {
    case "double":
      return typeof v === "number"
        ? "number out of double range"
        : `expected a double, got ${describe(v)}`;
    case "long":
      return typeof v === "number" && Number.isInteger(v)
        ? "integer beyond ±2^53 cannot be read exactly"
        : `expected a long (integer), got ${describe(v)}`;
    case "int":
      return typeof v === "number" && Number.isInteger(v)
        ? "integer out of int range (32 bits)"
        : `expected an int, got ${describe(v)}`;
    default:
      return `expected a ${type}, got ${describe(v)}`;
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
