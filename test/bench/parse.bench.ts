import { compileRecordParser } from "../../shared/codec/parse-record.ts";
import { decodeMskRecord, encodeMskRecord, type MskEventRecord } from "../../shared/msk/event.ts";
import { userSpending } from "../../shared/pipelines/user-spending.ts";
import { parseFilterStep } from "../../shared/usecases/parse-filter.ts";

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
  sink: number;
}

type Loop = readonly [label: string, run: (r: MskEventRecord) => unknown];

function timeOnce([label, run]: Loop, records: readonly MskEventRecord[]): Timing {
  const started = process.hrtime.bigint();
  let sink = 0;
  for (const record of records) if (run(record)) sink++;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { label, seconds, eventsPerSec: records.length / seconds, sink };
}

/**
 * Times loops over the same records in interleaved rounds (GC and machine noise hit them alike),
 * after a warm-up so the JIT compiled each, and keeps each loop's median round.
 */
function timeInterleaved(
  records: readonly MskEventRecord[],
  loops: readonly Loop[],
  rounds = 5,
): Timing[] {
  for (const [, run] of loops) {
    for (let i = 0; i < Math.min(records.length, 50_000); i++) run(records[i] as MskEventRecord);
  }
  const samples = loops.map(() => [] as Timing[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, loop] of loops.entries()) samples[i]?.push(timeOnce(loop, records));
  }
  return samples.map(
    (s) => s.sort((a, b) => a.seconds - b.seconds)[Math.floor(s.length / 2)] as Timing,
  );
}

/**
 * The parse/validate/filter hot path against a bare loop over the same records: base64-decode
 * and `JSON.parse` only (issue 3), and the full parse/filter step including the repartition
 * message against decode + parse + stringify (issue 8's floor).
 */
export function benchParse(count: number) {
  const records = realisticRecords(count);
  const parse = compileRecordParser(userSpending.fields);
  const filter = userSpending.filter ?? (() => true);
  const step = parseFilterStep(userSpending);
  const [bare, ours, floor] = timeInterleaved(records, [
    [
      "bare: base64 + JSON.parse",
      (r) => JSON.parse(Buffer.from(r.value ?? "", "base64").toString("utf8")),
    ],
    [
      "parse + validate + filter",
      (r) => {
        const decoded = decodeMskRecord(r);
        const outcome = parse(decoded.value);
        return outcome.ok && filter(outcome.row, decoded);
      },
    ],
    [
      "bare: base64 + JSON.parse + JSON.stringify",
      (r) => JSON.stringify(JSON.parse(Buffer.from(r.value ?? "", "base64").toString("utf8"))),
    ],
  ]) as [Timing, Timing, Timing];
  const batch = 1000;
  const full = {
    label: "full parse/filter step (batches of 1,000)",
    seconds: 0,
    eventsPerSec: 0,
    sink: 0,
  };
  const started = process.hrtime.bigint();
  for (let i = 0; i < records.length; i += batch) {
    full.sink += step(records.slice(i, i + batch).map(decodeMskRecord)).repartition.length;
  }
  full.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  full.eventsPerSec = records.length / full.seconds;
  return {
    count,
    rows: [bare, ours, floor, full],
    ratioToBare: ours.eventsPerSec / bare.eventsPerSec,
    fullRatioToFloor: full.eventsPerSec / floor.eventsPerSec,
  };
}
