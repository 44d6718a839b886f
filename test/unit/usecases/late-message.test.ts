import { describe, expect, it } from "vitest";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { memoryPipeline } from "./pipeline-harness.ts";

// A late event goes to `<name>.late` keyed like the output (Spark's CAST(<group key> AS STRING))
// and with its columns as Spark's to_json writes them, so NaN survives instead of becoming null.
describe("a late event's record", () => {
  it('is keyed by the group key as Spark casts it and keeps NaN as "NaN"', async () => {
    // Prepare: a double group key; the watermark (max − 1 minute) passes 12:05 with the first event.
    const pipeline = definePipeline({
      name: "late-keys",
      source: { topics: ["readings"] },
      schema: { sensor: "double", value: "double", event_time: "timestamp" },
      groupKey: "sensor",
      eventTime: "event_time",
      window: { type: "tumbling", size: "5 minutes" },
      watermark: "1 minute",
      watermarkFrom: "max",
      aggregations: [{ fn: "sum", column: "value", as: "total" }],
      output: { topic: "late-keys.out" },
    });
    const run = memoryPipeline(pipeline);
    await run.batch([{ sensor: 1e7, value: 1, event_time: "2025-01-01T12:10:00Z" }]);

    // Act: an event of the window that ended at 12:05
    const counts = await run.batch([
      { sensor: 1e7, value: "NaN", event_time: "2025-01-01T12:01:00Z" },
    ]);

    // Assess
    expect(counts.late).toBe(1);
    const [late] = run.records(pipeline.topics.late);
    expect(late?.key).toBe("1.0E7");
    expect(JSON.parse(late?.value ?? "{}")).toMatchObject({
      value: "NaN",
      event_time: "2025-01-01T12:01:00.000Z",
    });
  });
});
