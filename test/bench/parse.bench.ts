import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { compileRecordParser } from "../../shared/codec/parse-record.ts";
import {
  decodeRepartitionRecord,
  type RepartitionedEvent,
} from "../../shared/codec/repartition.ts";
import { aggregatorFor } from "../../shared/engine/aggregations.ts";
import { applyEvents, planBatch } from "../../shared/engine/batch.ts";
import { decodeMskRecord, encodeMskRecord, type MskEventRecord } from "../../shared/msk/event.ts";
import { userSpending } from "../../shared/pipelines/user-spending.ts";
import { parseFilterStep } from "../../shared/usecases/parse-filter.ts";
import { repartitionRecords } from "../fixtures/repartition-records.ts";

/** Realistic `transactions` records as the MSK event carries them (base64 values). */
export function realisticRecords(count: number): MskEventRecord[] {
  const users = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
  const start = Date.UTC(2025, 0, 1);
  return Array.from({ length: count }, (_, i) =>
    encodeMskRecord({
      topic: "transactions",
      partition: i % 6,
      offset: i,
      timestamp: start + i,
      key: null,
      value: Buffer.from(
        JSON.stringify({
          user: i % 100 === 0 ? null : users[i % users.length],
          action: i % 3 === 0 ? "refund" : "purchase",
          amount: Math.round(((i * 7919) % 100_000) / 10) / 100,
          event_time: new Date(start + i * 37).toISOString(),
        }),
      ),
      headers: {},
    }),
  );
}

interface Timing {
  label: string;
  seconds: number;
  eventsPerSec: number;
}

/** A loop over all the records, batch by batch; returns something so the work is not elided. */
type Loop = readonly [label: string, run: () => number];

/**
 * Times loops in interleaved rounds (GC and machine noise hit them alike), after a warm-up round
 * so the JIT compiled each, and keeps each loop's median round.
 */
function timeInterleaved(count: number, loops: readonly Loop[], rounds: number): Timing[] {
  for (const [, run] of loops) run();
  const collect = fullCollection();
  const samples = loops.map(() => [] as number[]);
  let sink = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [i, [, run]] of loops.entries()) {
      collect(); // every loop starts from the same heap, not from the previous loop's garbage
      const started = process.hrtime.bigint();
      sink += run();
      samples[i]?.push(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }
  if (sink < 0) console.log(sink);
  return loops.map(([label], i) => {
    const sorted = (samples[i] ?? []).sort((a, b) => a - b);
    const seconds = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    return { label, seconds, eventsPerSec: count / seconds };
  });
}

/** V8's full garbage collection, reached without starting node with --expose-gc. */
function fullCollection(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

function inBatches<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

export const HOT_PATH_BATCH_SIZES = [100, 1_000, 10_000] as const;

/**
 * The two handlers' in-process work on the default pipeline, one core, no I/O, at three batch
 * sizes, against the bare floor over the same records (base64-decode + `JSON.parse` +
 * `JSON.stringify`):
 * - parse/filter: decode the MSK record, parse and validate against the schema, filter, build the
 *   repartition message;
 * - window: decode the repartition records, assign windows and shards against the watermark,
 *   pre-aggregate per (key, window) and merge into each shard's state (what is then written).
 */
export function benchHotPath(count: number, rounds = 5) {
  const records = realisticRecords(count);
  const step = parseFilterStep(userSpending);
  const aggregator = aggregatorFor(userSpending.aggregations);
  const columns = userSpending.carriedColumns;
  const layout = { partition: 0, buckets: userSpending.stateBuckets };
  const parseLoop = (size: number): Loop => {
    const batches = inBatches(records, size);
    return [
      `parse/filter, batches of ${size.toLocaleString("en-US")}`,
      () => {
        let n = 0;
        for (const batch of batches) n += step(batch.map(decodeMskRecord)).repartition.length;
        return n;
      },
    ];
  };
  // A window batch of `size` events: what the parse step packed from as many source records.
  const windowLoop = (size: number): Loop => {
    const batches = inBatches(records, size).map((batch) =>
      repartitionRecords(userSpending, step(batch.map(decodeMskRecord)).repartition),
    );
    return [
      `window pre-aggregation, batches of ${size.toLocaleString("en-US")}`,
      () => {
        let n = 0;
        for (const batch of batches) {
          // As the window function decodes: the parse step's progress markers are not events.
          const events: RepartitionedEvent[] = [];
          for (const r of batch) {
            const decoded = decodeRepartitionRecord(r.value, columns);
            if (decoded.kind === "events") events.push(...decoded.events);
          }
          const plan = planBatch(
            events,
            layout,
            userSpending.windowSizeMs,
            userSpending.windowSlideMs,
            undefined,
          );
          for (const shard of plan.shards.values())
            n += applyEvents(undefined, shard.events, aggregator)?.entries.size ?? 0;
        }
        return n;
      },
    ];
  };
  const floor: Loop = [
    "floor: base64 + JSON.parse + JSON.stringify",
    () => {
      let n = 0;
      for (const r of records)
        n += JSON.stringify(
          JSON.parse(Buffer.from(r.value ?? "", "base64").toString("utf8")),
        ).length;
      return n;
    },
  ];
  const parse = compileRecordParser(userSpending.fields);
  const parseOnly: Loop = [
    "parse + validate (no message built)",
    () => {
      let n = 0;
      for (const r of records) if (parse(decodeMskRecord(r).value).ok) n++;
      return n;
    },
  ];
  // Two groups, each timed against the floor in the same heap: the window loops' input (the
  // repartition records, built by the parse step) would otherwise sit in memory while the parse
  // loops run and make every collection of theirs slower than the floor's.
  const [floorTiming, ...parseRows] = timeInterleaved(
    count,
    [floor, parseOnly, ...HOT_PATH_BATCH_SIZES.map(parseLoop)],
    rounds,
  ) as [Timing, ...Timing[]];
  const [windowFloor, ...windowRows] = timeInterleaved(
    count,
    [floor, ...HOT_PATH_BATCH_SIZES.map(windowLoop)],
    rounds,
  ) as [Timing, ...Timing[]];
  const against = (floorOfGroup: Timing) => (t: Timing) => ({
    ...t,
    ratioToFloor: t.eventsPerSec / floorOfGroup.eventsPerSec,
  });
  return {
    count,
    rounds,
    floor: floorTiming,
    windowFloor,
    rows: [...parseRows.map(against(floorTiming)), ...windowRows.map(against(windowFloor))],
  };
}
