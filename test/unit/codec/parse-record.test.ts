import { describe, expect, it } from "vitest";
import { compileRecordParser } from "../../../shared/codec/parse-record.ts";
import type { FieldType } from "../../../shared/pipeline/definition.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";

// The rows Spark 3.5's from_json gives (PERMISSIVE, default options, UTC), as tables; each case
// was measured with PySpark, and test/spark compares a larger corpus with Spark on every run.
const NOW = Date.UTC(2026, 10, 30, 19);
const parse = compileRecordParser(userSpending.fields, { nowMs: () => NOW });
const T = Date.UTC(2025, 0, 1, 12);
const bytes = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v));
const record = (fields: Record<string, unknown>) =>
  bytes({ user: "u1", action: "buy", amount: 12.5, event_time: "2025-01-01T12:00:00Z", ...fields });

/** One field `v` of each type, parsing `{"v": <token>}`. */
const single = (type: FieldType) => {
  const p = compileRecordParser([{ name: "v", type, nullable: true }], { nowMs: () => NOW });
  return (token: string) => {
    const outcome = p(bytes(`{"v":${token},"w":1}`));
    return outcome.ok ? outcome.row.v : null;
  };
};

describe("compileRecordParser: Spark's from_json, field for field", () => {
  it("reads a valid record; timestamps become epoch ms; absent fields null", () => {
    expect(parse(bytes({ user: "u1", amount: 1, event_time: "2025-01-01T12:00:00Z" }))).toEqual({
      ok: true,
      row: { user: "u1", action: null, amount: 1, event_time: T },
      coerced: [],
    });
  });

  it.each<[string, FieldType, string, unknown]>([
    ["a number as a string field keeps its text", "string", "123", "123"],
    ["-0 is the integer 0", "string", "-0", "0"],
    ["a double as Java prints it", "string", "1e2", "100.0"],
    ["1E400 is an infinite double, quoted", "string", "1E400", '"Infinity"'],
    ["NaN token", "string", "NaN", '"NaN"'],
    ["a boolean", "string", "true", "true"],
    [
      "an object, compact, re-escaped",
      "string",
      '{"a": [1, 2.50, "x\\u001f"]}',
      '{"a":[1,2.5,"x\\u001F"]}',
    ],
    ["a single-quoted string", "string", "'it\\'s'", "it's"],
    ["a lone surrogate becomes ?", "string", '"\\ud800A"', "?A"],
    ["an emoji nested is escaped", "string", '["\\ud83d\\ude00"]', '["\\uD83D\\uDE00"]'],
    ["a double from an integer", "double", "123", 123],
    ["-0 integer is 0.0", "double", "-0", 0],
    ["-0.0 stays negative", "double", "-0.0", -0],
    ["1e-400 underflows to 0", "double", "1e-400", 0],
    ["the string NaN", "double", '"NaN"', Number.NaN],
    ["the string +INF", "double", '"+INF"', Number.POSITIVE_INFINITY],
    ["the token -Infinity", "double", "-Infinity", Number.NEGATIVE_INFINITY],
    ["a numeric string is not a double", "double", '"1.5"', null],
    ["nan in lower case is not", "double", '"nan"', null],
    ["a long", "long", "9007199254740991", 9007199254740991],
    ["a fraction is not a long", "long", "1.0", null],
    ["beyond 2^53: refused (our one deviation)", "long", "9007199254740993", null],
    ["an int at its limit", "int", "-2147483648", -2147483648],
    ["an int beyond", "int", "2147483648", null],
    ["the string true is not a boolean", "boolean", '"true"', null],
    ["false", "boolean", "false", false],
    ["integer epoch seconds", "timestamp", "1735732800", T],
    ["fractional seconds are not", "timestamp", "1735732800.5", null],
    ["a date alone", "timestamp", '"2025-01-01"', Date.UTC(2025, 0, 1)],
    ["the empty string", "timestamp", '""', null],
  ])("%s (%s %s)", (_case, type, token, expected) => {
    expect(single(type)(token)).toEqual(expected);
  });

  it.each([
    ["trailing content after the object is ignored", '{"user":"a"} trailing', "a"],
    ["a second object is ignored", '{"user":"a"} {"user":"b"}', "a"],
    ["whitespace around", ' \n\t{"user" : "a" } ', "a"],
    ["the last duplicate key wins", '{"user":"a","user":"b"}', "b"],
    ["single quotes", "{'user':'a'}", "a"],
  ])("%s", (_case, text, user) => {
    expect(parse(bytes(text))).toMatchObject({ ok: true, row: { user } });
  });

  it("keeps an earlier duplicate when a later one does not convert", () => {
    expect(parse(bytes('{"amount":1,"amount":"x","user":"a"}'))).toMatchObject({
      ok: true,
      row: { amount: 1 },
      coerced: [],
    });
  });

  it("keeps the row and names each field it coerced to null, without its value", () => {
    const outcome = parse(record({ amount: "12.50", event_time: true }));
    expect(outcome).toEqual({
      ok: true,
      row: { user: "u1", action: "buy", amount: null, event_time: null },
      coerced: [
        { field: "amount", reason: "string for double" },
        { field: "event_time", reason: "boolean for timestamp" },
      ],
    });
    expect(JSON.stringify(outcome)).not.toContain("12.50");
  });

  it.each([
    ["malformed JSON", '{"user":"a"', /^malformed JSON: /],
    ["a bad token anywhere", '{"user":"a","amount":tru}', /^malformed JSON: /],
    ["a trailing comma", '{"user":"a",}', /^malformed JSON: /],
    ["a raw tab in a string", '{"user":"a\tb"}', /^malformed JSON: /],
    ["leading zeros", '{"amount":01}', /^malformed JSON: /],
    ["a comment", '{"user":"a" /* c */}', /^malformed JSON: /],
    ["unquoted names", '{user:"a"}', /^malformed JSON: /],
    ["INF without a sign", '{"amount":INF}', /^malformed JSON: /],
    ["an array", '[{"user":"a"}]', "value is not a JSON object (got an array)"],
    ["a string", '"a"', "value is not a JSON object (got a string)"],
    ["null", "null", "value is not a JSON object (got null)"],
    ["whitespace only", "   ", "value is only whitespace"],
    ["a byte-order mark", "\ufeff{}", /^value starts with a byte-order mark/],
    ["an empty object", "{}", /^no schema field in the object/],
    ["only other fields", '{"other":1}', /^no schema field in the object/],
    [
      "every field null",
      '{"user":null,"amount":"x"}',
      "every schema field is null: amount (string for double)",
    ],
  ])("gives Spark's all-null row for %s, with a reason", (_case, text, reason) => {
    const outcome = parse(bytes(text));
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.reason).toMatch(reason);
  });

  it("rejects null and empty values", () => {
    expect(parse(null)).toEqual({ ok: false, reason: "null value (a tombstone)" });
    expect(parse(Buffer.alloc(0))).toEqual({ ok: false, reason: "empty value (zero bytes)" });
  });

  it.each([
    ["0xff", [0xff], "\ufffd"],
    ["an overlong slash", [0xc0, 0xaf], "\ufffd\ufffd"],
    ["an encoded surrogate: one replacement, as Java", [0xed, 0xa0, 0x80], "\ufffd"],
    ["a truncated 3-byte character", [0xe2, 0x82], "\ufffd"],
    ["Latin-1 é", [0xe9], "\ufffd"],
  ])("decodes invalid UTF-8 as Java does: %s", (_case, invalid, user) => {
    const value = Buffer.concat([bytes('{"user":"'), Buffer.from(invalid), bytes('"}')]);
    expect(parse(value)).toMatchObject({ ok: true, row: { user } });
  });

  it("limits nesting to 1,000 levels, as Jackson", () => {
    const nested = (n: number) => bytes(`{"user":"a","x":${"[".repeat(n)}${"]".repeat(n)}}`);
    expect(parse(nested(999)).ok).toBe(true);
    expect(parse(nested(1000)).ok).toBe(false);
  });
});
