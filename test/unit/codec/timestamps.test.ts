import { describe, expect, it } from "vitest";
import { epochSecondsToMs, sparkTimestampMs } from "../../../shared/codec/timestamps.ts";

// Spark 3.5's string → timestamp cast, session time zone UTC; each row was checked against
// PySpark (the differential test in test/spark runs the same forms through Spark every time).
const NOW = Date.UTC(2026, 10, 30, 19, 0);
const at = (...parts: [number, number, number, number?, number?, number?, number?]) =>
  Date.UTC(...parts);

describe("sparkTimestampMs", () => {
  it("reads the canonical UTC form exactly, across the years", () => {
    let seed = 11;
    for (let i = 0; i < 5_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      const ms = Math.floor((seed / 2 ** 31) * 8e12) - 2e12; // 1906 .. 2223
      const canonical = new Date(ms).toISOString();
      expect(sparkTimestampMs(canonical, NOW)).toBe(ms);
      expect(sparkTimestampMs(canonical.replace("Z", "+00:00"), NOW)).toBe(ms);
    }
  });

  it.each([
    ["2025-01-01T12:00:00Z", at(2025, 0, 1, 12)],
    ["2025-01-01", at(2025, 0, 1)],
    ["2025-01", at(2025, 0, 1)],
    ["2025", at(2025, 0, 1)],
    ["2025-1-1 1:2:3", at(2025, 0, 1, 1, 2, 3)],
    ["2025-01-01T12:00", at(2025, 0, 1, 12)],
    ["2025-01-01T12", at(2025, 0, 1, 12)],
    ["  2025-01-01T12:00:00Z  ", at(2025, 0, 1, 12)],
    ["2025-01-01T12:00:00.123456789Z", at(2025, 0, 1, 12, 0, 0, 123)],
    ["2025-01-01T12:00:00.Z", at(2025, 0, 1, 12)],
    ["2025-01-01T12:00:00+01:00", at(2025, 0, 1, 11)],
    ["2025-01-01T12:00:00+01", at(2025, 0, 1, 11)],
    ["2025-01-01T12:00:00+0130", at(2025, 0, 1, 10, 30)],
    ["2025-01-01T12:00:00+1:00", at(2025, 0, 1, 11)],
    ["2025-01-01T12:00:00 +01:00", at(2025, 0, 1, 11)],
    ["2025-01-01T12:00:00-08:00:30", at(2025, 0, 1, 20, 0, 30)],
    ["2025-01-01T12:00:00UTC+01:00", at(2025, 0, 1, 11)],
    ["2025-01-01T12:00:00GMT+01:00", at(2025, 0, 1, 11)],
    ["2025-01-01GMT", at(2025, 0, 1)],
    ["2025-01-01T12:00:00Europe/Paris", at(2025, 0, 1, 11)],
    ["2025-07-01T12:00:00 Europe/Paris", at(2025, 6, 1, 10)],
    ["2025-01-01T12:00:00PST", at(2025, 0, 1, 20)],
    ["2025-01-01T12:00:00EST", at(2025, 0, 1, 17)],
    ["2025-01-01T12:00:00Zulu", at(2025, 0, 1, 12)],
    ["T12:00:00", at(2026, 10, 30, 12)],
    ["12:00", at(2026, 10, 30, 12)],
    ["+10000-01-01", 253_402_300_800_000],
    ["0001-01-01", -62_135_596_800_000],
    ["2024-02-29T00:00:00", at(2024, 1, 29)],
  ])("reads %s", (text, ms) => {
    expect(sparkTimestampMs(text, NOW)).toBe(ms);
  });

  it.each([
    "2025-01-01T",
    "2025-01-01 T12:00:00",
    "2025-01-01T12:00Z",
    "2025-02-29",
    "2025-13-01",
    "2025-01-01T24:00:00",
    "2025-01-01T12:00:60",
    "2025/01/01",
    "20250101",
    "2025-01-01T12:00:00z",
    "2025-01-01t12:00:00",
    "2025-01-01T12:00:00+19:00",
    "2025-01-01T12:00:00,5Z",
    "2025-01-01T12:00:00Mars/Olympus",
    "yesterday",
    "",
  ])("gives null for %j", (text) => {
    expect(sparkTimestampMs(text, NOW)).toBeUndefined();
  });
});

describe("epochSecondsToMs: integer seconds × 10^6 in a wrapping 64-bit long, as Spark", () => {
  it.each([
    ["1735732800", at(2025, 0, 1, 12)],
    ["-0", 0],
    ["-62135596801", -62_135_596_801_000],
    ["9223372036854", 9_223_372_036_854_000],
    ["9223372036855", -9_223_372_036_854_552], // overflowed, as in Spark
    ["17357328000000", -1_089_416_073_709_552],
    ["9223372036854775807", -1000],
  ])("%s", (seconds, ms) => {
    expect(epochSecondsToMs(seconds)).toBe(ms);
  });

  it("gives null beyond a long", () => {
    expect(epochSecondsToMs("9223372036854775808")).toBeUndefined();
  });
});
