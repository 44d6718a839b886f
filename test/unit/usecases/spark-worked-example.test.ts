import { describe, expect, it } from "vitest";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { memoryPipeline } from "./pipeline-harness.ts";

// The word-count example of Spark's Structured Streaming guide ("Handling Late Data and
// Watermarking"): 10-minute windows sliding every 5 minutes, a 10-minute watermark, replayed
// trigger by trigger. (12:09, cat) arrives after the watermark moved to 12:04 and is still
// counted; (12:04, donkey) arrives after it moved to 12:11 and is dropped.
const at = (hhmm: string) => `2025-01-01T${hhmm}:00Z`;
const triggers = [
  [
    { word: "dog", ts: at("12:07") },
    { word: "owl", ts: at("12:08") },
  ],
  [{ word: "dog", ts: at("12:14") }],
  [
    { word: "cat", ts: at("12:09") },
    { word: "cat", ts: at("12:15") },
    { word: "dog", ts: at("12:08") },
    { word: "owl", ts: at("12:13") },
    { word: "owl", ts: at("12:21") },
  ],
  [
    { word: "donkey", ts: at("12:04") },
    { word: "owl", ts: at("12:17") },
  ],
];

const wordCounts = (emit: "final" | "update") =>
  definePipeline({
    name: "word-counts",
    source: { topics: ["words"] },
    schema: { word: "string", ts: "timestamp" },
    groupKey: "word",
    eventTime: "ts",
    window: { type: "sliding", size: "10 minutes", slide: "5 minutes" },
    watermark: "10 minutes",
    aggregations: [{ fn: "count", as: "count" }],
    emit,
    output: { topic: "counts" },
  });

const row = (start: string, end: string, word: string, count: number) =>
  `{"window":{"start":"${at(start).replace(":00Z", ":00.000Z")}","end":"${at(end).replace(":00Z", ":00.000Z")}"},"word":"${word}","count":${count}}`;

describe("Spark's worked watermark example", () => {
  it("final (append) mode: emits 12:00-12:10 once the watermark reaches 12:11, drops the donkey", async () => {
    // Prepare
    const run = memoryPipeline(wordCounts("final"));

    // Act
    const counts = [];
    for (const trigger of triggers) counts.push(await run.batch(trigger));

    // Assess: watermark after each trigger, as Spark sets it for the next one.
    expect(counts.map((c) => c.watermarkMs)).toEqual(
      ["11:58", "12:04", "12:11", "12:11"].map((t) => Date.parse(at(t))),
    );
    expect(counts[2]?.counted).toBe(5); // (12:09, cat) behind max-event-time but ahead of 12:04
    expect(counts[3]?.late).toBe(1); // (12:04, donkey): both its windows ended by 12:11
    expect(counts[3]?.counted).toBe(1);
    expect(run.values("counts").sort()).toEqual(
      [
        row("12:00", "12:10", "cat", 1),
        row("12:00", "12:10", "dog", 2),
        row("12:00", "12:10", "owl", 1),
      ].sort(),
    );
    expect(run.values("word-counts.late")).toHaveLength(1);
    expect(JSON.parse(run.values("word-counts.late")[0] ?? "{}")).toMatchObject({ word: "donkey" });
  });

  it("update mode: each trigger emits the windows it changed, with their running counts", async () => {
    // Prepare
    const run = memoryPipeline(wordCounts("update"));

    // Act
    for (const trigger of triggers.slice(0, 3)) await run.batch(trigger);

    // Assess: after trigger 3, the 12:05-12:15 window of dog has 12:07, 12:14 and 12:08.
    const updates = run.values("counts");
    expect(updates).toContain(row("12:05", "12:15", "dog", 3));
    expect(updates).toContain(row("12:00", "12:10", "cat", 1));
    // Trigger 1 emitted dog and owl in two windows each; trigger 2 dog in two (in any order
    // within a trigger, as Spark's update mode does).
    expect(updates.slice(0, 4).sort()).toEqual(
      [
        row("12:00", "12:10", "dog", 1),
        row("12:05", "12:15", "dog", 1),
        row("12:00", "12:10", "owl", 1),
        row("12:05", "12:15", "owl", 1),
      ].sort(),
    );
    expect(updates.slice(4, 6).sort()).toEqual(
      [row("12:05", "12:15", "dog", 2), row("12:10", "12:20", "dog", 1)].sort(),
    );
  });

  it("5-minute tumbling: a row behind the watermark whose window is open is counted", async () => {
    // Prepare: watermark 12:11 after the first trigger.
    const run = memoryPipeline(
      definePipeline({
        ...wordCounts("final").definition,
        window: { type: "tumbling", size: "5 minutes" },
      }),
    );
    await run.batch([{ word: "owl", ts: at("12:21") }]);

    // Act: 12:10:30 is behind the watermark, but its window [12:10, 12:15) ends after it.
    const counts = await run.batch([
      { word: "cat", ts: "2025-01-01T12:10:30Z" },
      { word: "cat", ts: at("12:09") },
    ]);

    // Assess
    expect(counts.counted).toBe(1);
    expect(counts.late).toBe(1);
  });
});
