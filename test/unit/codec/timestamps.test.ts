import { describe, expect, it } from "vitest";
import { parseIsoTimestampMs } from "../../../shared/codec/timestamps.ts";

describe("parseIsoTimestampMs", () => {
  it("reads the canonical UTC form (its fast path) exactly as the general path reads the same instant", () => {
    let seed = 11;
    for (let i = 0; i < 5_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      const ms = Math.floor((seed / 2 ** 31) * 8e12) - 2e12; // 1906 .. 2223
      const canonical = new Date(ms).toISOString(); // 2025-01-01T12:00:00.123Z
      const withOffset = canonical.replace("Z", "+00:00"); // the general path
      expect(parseIsoTimestampMs(canonical)).toBe(ms);
      expect(parseIsoTimestampMs(withOffset)).toBe(ms);
    }
  });

  it.each([
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
    ["2000-02-29T00:00:00Z", Date.UTC(2000, 1, 29)],
    ["2025-01-01T12:00:00.123456789Z", Date.UTC(2025, 0, 1, 12, 0, 0, 123)],
    ["0001-01-01T00:00:00Z", -62135596800000],
    ["1969-12-31T23:59:59.999Z", -1],
  ])("reads %s", (text, ms) => {
    expect(parseIsoTimestampMs(text)).toBe(ms);
  });

  it.each([
    "2025-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2025-04-31T00:00:00Z",
    "2025-01-01T24:00:00Z",
    "2025-01-01T12:60:00Z",
    "2025-1-01T12:00:00Z",
    "2025-01-01T12:00:00.Z",
  ])("rejects %s", (text) => {
    expect(typeof parseIsoTimestampMs(text)).toBe("string");
  });
});
