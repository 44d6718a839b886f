import { describe, expect, it } from "vitest";
import {
  advanceWatermark,
  idleWatermark,
  isDue,
  isLate,
} from "../../../shared/engine/watermark.ts";

describe("advanceWatermark: max event time − delay, never back", () => {
  it.each([
    ["no event yet", undefined, undefined, undefined],
    ["first batch", undefined, 1_000, 400],
    ["moves forward", 400, 2_000, 1_400],
    ["an older batch never moves it back", 1_400, 1_500, 1_400],
    ["no event in the batch keeps it", 1_400, undefined, 1_400],
  ])("%s", (_case, current, maxEventTime, expected) => {
    expect(advanceWatermark(current, maxEventTime, 600)).toBe(expected);
  });
});

describe("isLate: window end <= the watermark before the batch", () => {
  it.each([
    ["no watermark yet: nothing is late", 10, undefined, false],
    ["window ended before the watermark", 10, 11, true],
    ["window ends exactly at the watermark", 10, 10, true],
    ["window still open", 10, 9, false],
  ])("%s", (_case, endMs, watermarkMs, expected) => {
    expect(isLate(endMs, watermarkMs)).toBe(expected);
  });
});

describe("isDue: final mode emits once the watermark reaches the end", () => {
  it.each([
    [10, undefined, false],
    [10, 9, false],
    [10, 10, true],
    [10, 11, true],
  ])("end %d, watermark %s → %s", (endMs, watermarkMs, expected) => {
    expect(isDue(endMs, watermarkMs)).toBe(expected);
  });
});

describe("idleWatermark (beyond Spark): wall-clock idleness moves time on", () => {
  it("leaves the watermark until the idle time has passed, then advances it by the idle time", () => {
    // Last event at 1,000 ms, seen at wall-clock 5,000; delay 100; idle close after 2,000.
    expect(idleWatermark(900, 1_000, 5_000, 6_999, 2_000, 100)).toBe(900);
    expect(idleWatermark(900, 1_000, 5_000, 7_000, 2_000, 100)).toBe(2_900);
    expect(idleWatermark(undefined, undefined, undefined, 7_000, 2_000, 100)).toBeUndefined();
  });
});
