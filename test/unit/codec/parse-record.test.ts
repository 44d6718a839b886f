import { describe, expect, it } from "vitest";
import { compileRecordParser } from "../../../shared/codec/parse-record.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";

const parse = compileRecordParser([
  ...userSpending.fields,
  { name: "quantity", type: "long", nullable: true },
  { name: "rank", type: "int", nullable: true },
  { name: "vip", type: "boolean", nullable: true },
  { name: "ref", type: "string", nullable: false },
]);
const valid = {
  user: "u1",
  action: "buy",
  amount: 12.5,
  event_time: "2025-01-01T12:00:00Z",
  ref: "r",
};
const value = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v));

describe("compileRecordParser", () => {
  it("parses a valid record, timestamps to epoch ms, absent nullable fields to null", () => {
    expect(parse(value(valid))).toEqual({
      ok: true,
      row: {
        ...valid,
        event_time: Date.UTC(2025, 0, 1, 12),
        quantity: null,
        rank: null,
        vip: null,
      },
    });
  });

  it.each([
    ["ISO with Z", "2025-01-01T12:00:00Z", Date.UTC(2025, 0, 1, 12)],
    ["ISO with millis", "2025-01-01T12:00:00.123Z", Date.UTC(2025, 0, 1, 12, 0, 0, 123)],
    ["ISO with an offset", "2025-01-01T13:00:00+01:00", Date.UTC(2025, 0, 1, 12)],
    ["no zone means UTC (session time zone)", "2025-01-01T12:00:00", Date.UTC(2025, 0, 1, 12)],
    ["a space instead of T", "2025-01-01 12:00:00", Date.UTC(2025, 0, 1, 12)],
    ["a date alone", "2025-01-01", Date.UTC(2025, 0, 1)],
    ["a JSON number is epoch seconds, as in Spark", 1735732800, Date.UTC(2025, 0, 1, 12)],
    ["fractional epoch seconds", 1735732800.5, Date.UTC(2025, 0, 1, 12, 0, 0, 500)],
  ])("reads timestamps: %s", (_case, eventTime, expectedMs) => {
    const outcome = parse(value({ ...valid, event_time: eventTime }));
    expect(outcome).toMatchObject({ ok: true, row: { event_time: expectedMs } });
  });

  it.each([
    ["malformed JSON", value('{"user": "u1",'), /^malformed JSON: /],
    ["truncated JSON", value('{"user"'), /^malformed JSON: /],
    ["an array", value([valid]), "value is not a JSON object (got an array)"],
    ["a string", value('"hello"'), "value is not a JSON object (got a string)"],
    ["JSON null", value("null"), "value is not a JSON object (got null)"],
    ["an empty value", Buffer.alloc(0), "empty value (null or zero bytes)"],
    ["a null value (tombstone)", null, "empty value (null or zero bytes)"],
    [
      "invalid UTF-8",
      Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      "value is not valid UTF-8",
    ],
    [
      "a number for a string",
      value({ ...valid, user: 42 }),
      "field 'user': expected a string, got an integer",
    ],
    [
      "a string for a double",
      value({ ...valid, amount: "12.5" }),
      "field 'amount': expected a double, got a string",
    ],
    [
      "a fraction for a long",
      value({ ...valid, quantity: 1.5 }),
      "field 'quantity': expected a long (integer), got a number",
    ],
    [
      "a long beyond 2^53",
      value(`{"user":"u","event_time":1,"ref":"r","quantity":9007199254740993}`),
      "field 'quantity': integer beyond ±2^53 cannot be read exactly",
    ],
    [
      "an int beyond 32 bits",
      value({ ...valid, rank: 2 ** 31 }),
      "field 'rank': integer out of int range (32 bits)",
    ],
    [
      "a string for a boolean",
      value({ ...valid, vip: "true" }),
      "field 'vip': expected a boolean, got a string",
    ],
    [
      "a huge number for a double",
      value('{"user":"u","amount":1e400,"event_time":1,"ref":"r"}'),
      "field 'amount': number out of double range",
    ],
    [
      "a missing required field",
      value({ ...valid, ref: undefined }),
      "field 'ref': required (not nullable) but missing or null",
    ],
    [
      "null for a required field",
      value({ ...valid, ref: null }),
      "field 'ref': required (not nullable) but missing or null",
    ],
    [
      "an unparseable timestamp",
      value({ ...valid, event_time: "yesterday" }),
      /^field 'event_time': timestamp not an ISO-8601 timestamp/,
    ],
    [
      "an impossible date",
      value({ ...valid, event_time: "2025-02-30T00:00:00Z" }),
      "field 'event_time': timestamp not a valid date and time",
    ],
    [
      "a timestamp out of range",
      value({ ...valid, event_time: 1e15 }),
      "field 'event_time': timestamp out of range (years 1 to 9999)",
    ],
    [
      "a boolean for a timestamp",
      value({ ...valid, event_time: true }),
      /^field 'event_time': expected a timestamp/,
    ],
    [
      "an object for a string",
      value({ ...valid, action: { a: 1 } }),
      "field 'action': expected a string, got an object",
    ],
  ])("rejects %s with a precise reason", (_case, input, reason) => {
    const outcome = parse(input);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      if (typeof reason === "string") expect(outcome.reason).toBe(reason);
      else expect(outcome.reason).toMatch(reason);
    }
  });

  it("never echoes the record's value in a reason", () => {
    const outcome = parse(value({ ...valid, user: { secret: "s3cr3t-card-number" } }));
    expect(JSON.stringify(outcome)).not.toContain("s3cr3t");
  });
});
