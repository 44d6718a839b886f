import { describe, expect, it } from "vitest";
import { windowsFor } from "../../../shared/engine/windows.ts";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { watermarkOf } from "../../../shared/usecases/window-batch.ts";
import { runModelSchedule, type ScheduleSpec, type World } from "./model-check-world.ts";

/*
 * Model checking in the small (issue 13 §2): random schedules of the window protocol against the
 * in-memory store (the schedule of model-check-world.ts, shared with the session check) — 2–3
 * repartition partitions interleaved at every store call and produce, crashes before and after
 * each of them, redeliveries with other batch boundaries, re-produced prefixes, two invocations
 * of one partition at once, flushes racing them, shards split by a tiny item limit, and (with
 * `watermarkFrom: "sources"`) the parse step's progress markers to every partition, whose progress
 * writes (`readPartition`, `recordSources`) are crashed before and after taking effect like every
 * other call — and after every schedule the invariants:
 *
 * 1. every (key, window) result is byte-identical each time it is produced;
 * 2. no event is counted twice, in one window or across windows (each event's amount is 4^i, so a
 *    sum is a base-4 number whose digits must all be 0 or 1);
 * 3. nothing is counted after its window was emitted (the closed state equals what went out);
 * 4. every event is counted in its window or reported late, never both, never neither;
 * 5. an event is reported late only if the watermark its invocation read had passed its window's
 *    end, or its window had been closed before that invocation produced the late record;
 * 6. every window whose end the final watermark passed is emitted (after the last flush).
 *
 * `MODEL_CHECK_SCHEDULES=20000` runs more (a bench mode); the default 1,500 keeps `npm test` well under a
 * minute (about 25 s on a loaded 2-core machine).
 */

const SCHEDULES = Number(process.env.MODEL_CHECK_SCHEDULES ?? 1_500);
// Replays from a failing seed: MODEL_CHECK_FIRST_SEED=4319 MODEL_CHECK_SCHEDULES=1.
const FIRST_SEED = Number(process.env.MODEL_CHECK_FIRST_SEED ?? 1);

// The user-spending pipeline's tumbling windows; a fifth of the events 5–24 minutes back, so some
// arrive after their window closed.
const TUMBLING: ScheduleSpec = {
  pipeline: (shape) => definePipeline({ ...userSpending.definition, ...shape }),
  tinyItemLimit: 48,
  keys: "abcdef",
  backChance: 0.2,
  backMinutes: { min: 5, spread: 20 },
  row: (e) => ({ amount: 4 ** e.index }),
  farEvents: false,
};

interface Outcome {
  readonly violations: string[];
  readonly splits: number;
}

async function runSchedule(seed: number, crashes: Map<string, number>): Promise<Outcome> {
  const { world, stuck } = await runModelSchedule(seed, TUMBLING, crashes);
  const violations = stuck ? [stuck] : check(world);
  return { violations: violations.map((v) => `seed ${seed}: ${v}`), splits: world.splits };
}

function check(world: World): string[] {
  // 1 and 2. byte-identical results, each event counted once: decode each result's sum
  const { results, countedIn, violations } = world.countedResults("total_spent");
  return [
    ...violations,
    ...closedWindowsAsEmitted(world, results),
    ...eventsCountedOrLate(world, countedIn),
    ...dueWindowsEmitted(world),
  ];
}

const idOf = (world: World, key: string, startMs: number, endMs: number) =>
  `${world.pipeline.name}/${key}/${startMs}/${endMs}`;

/** 3. Nothing counted after emission: the final closed state is what went out. */
function closedWindowsAsEmitted(world: World, results: ReadonlyMap<string, string>): string[] {
  const violations: string[] = [];
  for (const shard of world.memory.allShards(world.pipeline.name)) {
    if (shard.closedAtMs === undefined) continue;
    for (const [key, state] of shard.entries) {
      const id = idOf(world, key, shard.startMs, shard.endMs);
      const emitted = results.get(id);
      if (emitted === undefined) violations.push(`closed window ${id} never emitted`);
      else if (JSON.parse(emitted).total_spent !== (state as number[])[0])
        violations.push(`window ${id} changed after it was emitted`);
    }
  }
  return violations;
}

/** 4 and 5. Every event counted or late, never both; late only when justified. */
function eventsCountedOrLate(world: World, countedIn: ReadonlyMap<number, string>): string[] {
  const { pipeline, partitionOf } = world;
  const violations: string[] = [];
  const finalState = world.memory.allShards(pipeline.name);
  const lateRecord = world.lateRecords();
  for (const e of world.events) {
    const late = lateRecord(e);
    const counted = countedIn.get(e.index);
    const { startMs, endMs } = windowsFor(
      e.eventTimeMs,
      pipeline.windowSizeMs,
      pipeline.windowSlideMs,
    )[0] as { startMs: number; endMs: number };
    // Counted in a window still open at the end (its digit of the open state's sum is 1).
    const openState = finalState.find(
      (s) =>
        s.closedAtMs === undefined &&
        s.endMs === endMs &&
        s.partition === partitionOf(e.key) &&
        ((s.entries.get(e.key) as number[] | undefined)?.[0] ?? 0) % 4 ** (e.index + 1) >=
          4 ** e.index,
    );
    if (counted && counted !== idOf(world, e.key, startMs, endMs))
      violations.push(`event ${e.index} counted in ${counted}`);
    if (late && (counted || openState)) violations.push(`event ${e.index} both counted and late`);
    if (!late && !counted && !openState) violations.push(`event ${e.index} lost`);
    if (late) {
      const { watermarkMs, step } = late;
      if (!(watermarkMs !== undefined && endMs <= watermarkMs) && !world.closedBy(e, endMs, step))
        violations.push(`event ${e.index} late under watermark ${watermarkMs}, window open`);
    }
  }
  return violations;
}

/** 6. Every window whose end the final watermark passed is emitted. */
function dueWindowsEmitted(world: World): string[] {
  const { pipeline, memory } = world;
  const progress = memory.progressNow(pipeline.name);
  const final = watermarkOf(progress, pipeline.watermarkDelayMs);
  const finalOf = (partition: number) =>
    pipeline.watermarkFrom === "max"
      ? final.watermarkMs
      : progress.partitions.find((p) => p.partition === partition)?.watermarkMs;
  const violations: string[] = [];
  for (const shard of memory.allShards(pipeline.name)) {
    const watermarkMs = finalOf(shard.partition);
    if (shard.closedAtMs === undefined && !shard.split && shard.entries.size > 0)
      if (watermarkMs !== undefined && shard.endMs <= watermarkMs)
        violations.push(
          `window ending ${shard.endMs} of partition ${shard.partition} due, never emitted`,
        );
  }
  return violations;
}

describe("the window protocol, model-checked in the small", () => {
  // Found with MODEL_CHECK_SCHEDULES=20000 once markers were modelled: two invocations of one
  // partition on the same batch (a redelivery racing the first attempt), and between their reads
  // the watermark passes a window not open yet (seed 4319: the flush, moved by the sources'
  // progress). The one that read the older watermark counted the event and emitted it; the other
  // had read its leaf absent and sent the event to the late topic too. Fixed by closing a late
  // event's leaf before reporting it (settleLateEvents in window-protocol.ts).
  it("never reports an event late that a racing invocation counted (seeds 4319, 10165)", async () => {
    const violations: string[] = [];
    for (const seed of [4319, 10165])
      violations.push(...(await runSchedule(seed, new Map())).violations);
    expect(violations).toEqual([]);
  });

  it(`keeps its invariants over ${SCHEDULES} random schedules of partitions, crashes, redeliveries and flushes`, async () => {
    // Prepare
    const crashes = new Map<string, number>();
    const violations: string[] = [];
    let splits = 0;

    // Act
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SCHEDULES; seed++) {
      const outcome = await runSchedule(seed, crashes);
      violations.push(...outcome.violations);
      splits += outcome.splits;
    }

    // Assess
    console.log(
      `[model-check] ${SCHEDULES} schedules, ${[...crashes.values()].reduce((a, b) => a + b, 0)} crashes ` +
        `at ${crashes.size} distinct steps, ${splits} shard splits, ${violations.length} violations`,
    );
    expect(violations.slice(0, 20)).toEqual([]);
    // Every store call and the produce were crashed before and after somewhere.
    for (const step of [
      "openWindows",
      "putShard",
      "recordProgress",
      "readPartition",
      "recordSources",
      "closeShard",
      "closeEnds",
      "send",
    ])
      for (const when of ["before", "after"])
        expect(crashes.get(`${step}:${when}`)).toBeGreaterThan(0);
  }, 120_000);
});
