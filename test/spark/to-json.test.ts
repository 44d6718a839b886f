import { describe, expect, inject, it } from "vitest";
import { compileRecordParser } from "../../shared/codec/parse-record.ts";
import { type AggState, aggregatorFor } from "../../shared/engine/aggregations.ts";
import { definePipeline } from "../../shared/pipeline/pipeline.ts";
import { AGGREGATIONS, type ParityAggregation } from "./corpus.ts";

// Our window results, written by the pipeline's output encoder, against the bytes Spark 3.5.7's
// to_json(struct(*)) wrote for the same events grouped by window(event_time, "5 minutes") and key.
const spark = inject("sparkParity");
const WINDOW_MS = 5 * 60_000;

/** Our values for one aggregation: events parsed, summed per (key, window) in memory, encoded. */
function ourValues(agg: ParityAggregation): string[] {
  const pipeline = definePipeline({
    name: "parity",
    source: { topics: ["in"] },
    schema: Object.fromEntries(agg.schema),
    groupKey: agg.key,
    eventTime: "event_time",
    window: { type: "tumbling", size: WINDOW_MS },
    watermark: 0,
    aggregations: agg.aggs.map(([fn, column, as]) =>
      column === null ? { fn, as } : { fn, column, as },
    ),
    output: { topic: "out" },
  });
  const parse = compileRecordParser(pipeline.fields);
  const aggregator = aggregatorFor(pipeline.aggregations);
  const windows = new Map<string, { key: string; startMs: number; state: AggState }>();
  for (const event of agg.events) {
    const parsed = parse(Buffer.from(event));
    if (!parsed.ok) throw new Error(`${agg.name}: ${event}: ${parsed.reason}`);
    const key = String(parsed.row[agg.key]);
    const startMs = Math.floor((parsed.row.event_time as number) / WINDOW_MS) * WINDOW_MS;
    const id = `${key}|${startMs}`;
    const window = windows.get(id) ?? { key, startMs, state: aggregator.init() };
    aggregator.add(window.state, parsed.row);
    windows.set(id, window);
  }
  return [...windows.values()]
    .map((w) =>
      pipeline.outputValue({
        groupKey: w.key,
        windowStartMs: w.startMs,
        windowEndMs: w.startMs + WINDOW_MS,
        values: aggregator.result(w.state),
      }),
    )
    .sort();
}

describe("to_json parity with PySpark", () => {
  it("writes the same bytes as Spark for every window result", () => {
    let compared = 0;
    let identical = 0;
    for (const agg of AGGREGATIONS) {
      const theirs = spark.aggregations[agg.name] ?? [];
      const ours = ourValues(agg);
      compared += theirs.length;
      identical += ours.filter((v, i) => v === theirs[i]).length;
      expect(ours, agg.name).toEqual(theirs);
    }
    console.log(
      `[spark parity] to_json: ${AGGREGATIONS.length} aggregations, ${compared} results compared byte for byte with Spark ${spark.spark}: ${identical} identical`,
    );
  });

  // Through the pipeline's own steps (repartition records, JSON state), NaN and infinities
  // included, and with the output keys: pipeline-steps.test.ts.
});
