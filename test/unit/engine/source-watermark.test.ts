import { describe, expect, it } from "vitest";
import {
  mergeSourceProgress,
  type SourceProgress,
  type SourceWatermarkRule,
  sourceWatermark,
} from "../../../shared/engine/source-watermark.ts";

const MIN = 60_000;
const source = (
  name: string,
  maxEventTimeMs: number,
  seenAtMs = 0,
  behind = false,
): SourceProgress => ({ source: name, maxEventTimeMs, seenAtMs, behind });
const rule = {
  delayMs: 10 * MIN,
  idleMs: 5 * MIN,
  expectedSources: undefined,
  nowMs: 0,
  sinceMs: 0,
};

// Issue 14: the watermark is the minimum over source partitions of their max event time − delay
// (Flink's per-split watermarks), idle sources excluded after idleMs, a source behind never idle.
describe("sourceWatermark: min over sources of their max event time − delay", () => {
  it.each<
    [string, number | undefined, SourceProgress[], Partial<SourceWatermarkRule>, number | undefined]
  >([
    ["no source seen yet", undefined, [], {}, undefined],
    ["one source: Spark's rule", undefined, [source("t/0", 60 * MIN)], {}, 50 * MIN],
    [
      "several sources: the slowest holds it",
      undefined,
      [source("t/0", 60 * MIN), source("t/1", 20 * MIN), source("t/2", 90 * MIN)],
      {},
      10 * MIN,
    ],
    [
      "never moves back when a slower source appears",
      40 * MIN,
      [source("t/0", 60 * MIN), source("t/1", 20 * MIN)],
      {},
      40 * MIN,
    ],
    [
      "a quiet, caught-up source is left out after the idle time",
      undefined,
      [source("t/0", 60 * MIN, 10 * MIN), source("t/1", 20 * MIN, 0)],
      { nowMs: 6 * MIN },
      50 * MIN,
    ],
    [
      "a quiet source holds it before the idle time",
      undefined,
      [source("t/0", 60 * MIN, 10 * MIN), source("t/1", 20 * MIN, 0)],
      { nowMs: 4 * MIN },
      10 * MIN,
    ],
    [
      "a source that is behind is never idle",
      undefined,
      [source("t/0", 60 * MIN, 10 * MIN), source("t/1", 20 * MIN, 0, true)],
      { nowMs: 60 * MIN },
      10 * MIN,
    ],
    [
      "a resumed source rejoins (seen again: not idle)",
      undefined,
      [source("t/0", 60 * MIN, 10 * MIN), source("t/1", 30 * MIN, 59 * MIN)],
      { nowMs: 60 * MIN },
      20 * MIN,
    ],
    [
      "every source idle: the maximum counts (all produced was seen)",
      undefined,
      [source("t/0", 60 * MIN, 0), source("t/1", 20 * MIN, 0)],
      { nowMs: 6 * MIN },
      50 * MIN,
    ],
    [
      "idle detection off: a quiet source holds it forever",
      undefined,
      [source("t/0", 60 * MIN, 100 * MIN), source("t/1", 20 * MIN, 0)],
      { nowMs: 600 * MIN, idleMs: undefined },
      10 * MIN,
    ],
    [
      "fewer sources than expected: waits",
      undefined,
      [source("t/0", 60 * MIN), source("t/1", 70 * MIN)],
      { expectedSources: 3, nowMs: 1 * MIN },
      undefined,
    ],
    [
      "fewer sources than expected, for longer than the idle time: goes on without",
      undefined,
      [source("t/0", 60 * MIN, 4 * MIN), source("t/1", 70 * MIN, 4 * MIN)],
      { expectedSources: 3, nowMs: 5 * MIN },
      50 * MIN,
    ],
  ])("%s", (_, previous, sources, overrides, expected) => {
    expect(sourceWatermark(previous, sources, { ...rule, ...overrides })).toBe(expected);
  });
});

describe("mergeSourceProgress", () => {
  it("keeps each source's maximum event time and latest sighting", () => {
    const merged = mergeSourceProgress(
      [source("t/0", 50 * MIN, 1), source("t/1", 20 * MIN, 1)],
      [source("t/0", 40 * MIN, 5, true), source("t/2", 10 * MIN, 5)],
    );
    expect(merged).toEqual([
      source("t/0", 50 * MIN, 5, true),
      source("t/1", 20 * MIN, 1),
      source("t/2", 10 * MIN, 5),
    ]);
  });
});
