import { describe, expect, it } from "vitest";
import { eventClock, renderFrame, type ViewState } from "../../../localstack/live-view.ts";
import type { PipelineTotals } from "../../../localstack/local-pipeline.ts";
import { emptyWindowCounts } from "../../../shared/usecases/window-batch.ts";

const at = (hhmmss: string) => Date.parse(`2025-01-01T${hhmmss}Z`);

function view(overrides: Partial<ViewState>): ViewState {
  return {
    pipeline: "user-spending",
    uptimeMs: 5_000,
    rates: {},
    totals: {
      parse: { in: 0, valid: 0, filtered: 0, invalid: 0 },
      window: emptyWindowCounts(),
      flushEmitted: 0,
      failedInvocations: 0,
    } as unknown as PipelineTotals, // the fields the clock line does not read are not the point here
    mappings: [],
    watermarkMs: undefined,
    openEnds: [],
    latestResults: [],
    demoSent: undefined,
    ...eventClock(undefined, []),
    ...overrides,
  };
}

const clockLine = (text: string) => text.split("\n").find((l) => l.startsWith("watermark")) ?? "";

describe("the live view's event clock", () => {
  it.each([
    ["no producer, no event yet", undefined, [], undefined, "newest event"],
    [
      "no producer: the newest event any partition saw",
      undefined,
      [at("12:00:00"), undefined, at("12:16:30")],
      at("12:16:30"),
      "newest event",
    ],
    [
      "the demo producer's clock while it runs",
      at("09:00:00"),
      [at("08:59:00")],
      at("09:00:00"),
      "demo producer",
    ],
  ] as const)("%s", (_, demoMs, partitionMaxMs, expectedMs, source) => {
    expect(eventClock(demoMs, partitionMaxMs)).toEqual({
      eventClockMs: expectedMs,
      eventClockSource: source,
    });
  });

  it("shows no clock and no trail until there is an event (never the wall clock)", () => {
    const line = clockLine(renderFrame(view({})));
    expect(line).toBe("watermark — · event clock — (newest event) · trails by —");
  });

  it("shows how far the watermark trails the newest event, however old the events are", () => {
    // Events of 2025 replayed today: the wall clock would say the watermark trails by ~a year.
    const line = clockLine(
      renderFrame(
        view({ watermarkMs: at("12:06:30"), ...eventClock(undefined, [at("12:16:30")]) }),
      ),
    );
    expect(line).toBe(
      "watermark 12:06:30 · event clock 12:16:30 (newest event) · trails by 10m00s",
    );
  });
});
