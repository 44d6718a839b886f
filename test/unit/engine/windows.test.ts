import { describe, expect, it } from "vitest";
import { windowsFor } from "../../../shared/engine/windows.ts";

const MIN = 60_000;
const T = Date.UTC(2025, 0, 1, 12, 0); // 2025-01-01T12:00Z

describe("windowsFor (Spark's window(col, size, slide), epoch-aligned, half-open)", () => {
  it.each([
    ["tumbling, inside", T + 2 * MIN, 5 * MIN, 5 * MIN, [[T, T + 5 * MIN]]],
    [
      "tumbling, on a start: belongs to the window it starts",
      T + 5 * MIN,
      5 * MIN,
      5 * MIN,
      [[T + 5 * MIN, T + 10 * MIN]],
    ],
    ["tumbling, 1 ms before an end", T + 5 * MIN - 1, 5 * MIN, 5 * MIN, [[T, T + 5 * MIN]]],
    [
      "sliding 10/5, inside two windows",
      T + 7 * MIN,
      10 * MIN,
      5 * MIN,
      [
        [T, T + 10 * MIN],
        [T + 5 * MIN, T + 15 * MIN],
      ],
    ],
    [
      "sliding 10/5, on a boundary",
      T + 10 * MIN,
      10 * MIN,
      5 * MIN,
      [
        [T + 5 * MIN, T + 15 * MIN],
        [T + 10 * MIN, T + 20 * MIN],
      ],
    ],
    [
      "sliding 15/5, three windows",
      T + MIN,
      15 * MIN,
      5 * MIN,
      [
        [T - 10 * MIN, T + 5 * MIN],
        [T - 5 * MIN, T + 10 * MIN],
        [T, T + 15 * MIN],
      ],
    ],
    ["epoch zero", 0, 5 * MIN, 5 * MIN, [[0, 5 * MIN]]],
    ["negative time (before 1970) aligns down", -1, 5 * MIN, 5 * MIN, [[-5 * MIN, 0]]],
    [
      "negative time, sliding",
      -MIN,
      10 * MIN,
      5 * MIN,
      [
        [-10 * MIN, 0],
        [-5 * MIN, 5 * MIN],
      ],
    ],
    [
      "far future (year 9999)",
      Date.UTC(9999, 11, 31, 23, 59),
      5 * MIN,
      5 * MIN,
      [[Date.UTC(9999, 11, 31, 23, 55), Date.UTC(10000, 0, 1)]],
    ],
  ])("%s", (_case, eventTimeMs, sizeMs, slideMs, expected) => {
    const windows = windowsFor(eventTimeMs as number, sizeMs as number, slideMs as number);
    expect(windows.map((w) => [w.startMs, w.endMs])).toEqual(expected);
    for (const w of windows)
      expect(w.startMs <= (eventTimeMs as number) && (eventTimeMs as number) < w.endMs).toBe(true);
  });
});
