import { describe, expect, it } from "vitest";
import type { RepartitionedEvent } from "../../../shared/codec/repartition.ts";
import { aggregatorFor } from "../../../shared/engine/aggregations.ts";
import { applyEvents } from "../../../shared/engine/batch.ts";
import {
  isSessionEventLate,
  planSessionBatch,
  runOf,
  type SessionRun,
  sessionAggregator,
  sessionBinFor,
  sessionsFromRuns,
} from "../../../shared/engine/sessions.ts";

const MIN = 60_000;
const GAP = 5 * MIN;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const at = (minutes: number) => T0 + minutes * MIN;
const inner = aggregatorFor([
  { fn: "sum", column: "amount", as: "total" },
  { fn: "count", as: "n" },
]);
const agg = sessionAggregator(inner, "event_time");
let offset = 0;
const event = (
  groupKey: string,
  minutes: number,
  amount = 1,
  source = "t/0",
): RepartitionedEvent => ({
  groupKey,
  eventTimeMs: at(minutes),
  row: { amount, event_time: at(minutes) },
  source,
  sourceOffset: offset++,
});

/** Spark's rule, written plainly: sort a key's events, a new session when the next is more than a gap after the last. */
function sparkSessions(events: readonly RepartitionedEvent[]) {
  const sorted = [...events].sort((a, b) => a.eventTimeMs - b.eventTimeMs);
  const sessions: Array<{ start: number; end: number; total: number; n: number }> = [];
  for (const e of sorted) {
    const last = sessions.at(-1);
    if (last && e.eventTimeMs <= last.end) {
      last.end = e.eventTimeMs + GAP;
      last.total += e.row.amount as number;
      last.n++;
    } else
      sessions.push({
        start: e.eventTimeMs,
        end: e.eventTimeMs + GAP,
        total: e.row.amount as number,
        n: 1,
      });
  }
  return sessions;
}

/** Our path: plan into bins, apply each bin (any batch order), then chain the runs. */
function binnedSessions(batches: ReadonlyArray<readonly RepartitionedEvent[]>) {
  const bins = new Map<
    string,
    { entries: Map<string, unknown>; applied: Record<string, number> }
  >();
  for (const batch of batches) {
    const plan = planSessionBatch(batch, { partition: 0, buckets: 1 }, GAP, undefined);
    for (const [key, { events }] of plan.shards) {
      const stored = bins.get(key) as Parameters<typeof applyEvents>[0];
      const next = applyEvents(stored, events, agg);
      if (next) bins.set(key, { entries: next.entries, applied: next.applied });
    }
  }
  const runs = new Map<number, SessionRun>();
  for (const [key, bin] of bins) {
    const state = bin.entries.get("u1");
    if (state) runs.set(Number(key.split("#")[2]), runOf(state));
  }
  return sessionsFromRuns(runs, GAP, inner.merge).map((s) => ({
    start: s.startMs,
    end: s.endMs,
    ...(inner.result(s.state) as { total: number; n: number }),
  }));
}

describe("sessionBinFor", () => {
  it.each([
    ["a bin's first instant", at(0), at(0), at(10)],
    ["inside", at(4.5), at(0), at(10)],
    ["the next bin starts at the gap", at(5), at(5), at(15)],
    ["before the epoch, floored", -1, -GAP, GAP],
  ])("%s", (_, t, startMs, endMs) => {
    expect(sessionBinFor(t, GAP)).toEqual({ startMs, endMs });
  });
});

describe("isSessionEventLate (Spark 3.5.7: t + gap <= watermark before the batch)", () => {
  it.each([
    ["no watermark yet", at(0), undefined, false],
    ["t + gap = watermark: dropped (12:09 at wm 12:14)", at(9), at(14), true],
    [
      "t behind the watermark, t + gap after it: counted (12:09:30 at wm 12:14)",
      at(9.5),
      at(14),
      false,
    ],
    ["ahead of the watermark", at(20), at(14), false],
  ])("%s", (_, t, wm, late) => {
    expect(isSessionEventLate(t, GAP, wm)).toBe(late);
  });
});

describe("planSessionBatch", () => {
  it("puts each event into its one bin, late ones aside with the bin they would go to", () => {
    const events = [event("u1", 1), event("u1", 6), event("u1", 2), event("u2", 9)];
    const plan = planSessionBatch(events, { partition: 3, buckets: 1 }, GAP, at(9));
    expect(
      [...plan.shards.values()].map((s) => [s.id.startMs, s.id.endMs, s.events.length]),
    ).toEqual([[at(5), at(15), 2]]);
    expect(plan.late.map((l) => [l.event.eventTimeMs, l.shards[0]?.startMs])).toEqual([
      [at(1), at(0)],
      [at(2), at(0)],
    ]);
    expect(plan.maxEventTimeMs).toBe(at(9));
  });
});

describe("sessions from bins equal Spark's sessions", () => {
  it.each([
    ["one event", [[0]]],
    ["exactly a gap apart merge (Spark: [12:00, 12:10))", [[0, 5]]],
    ["a millisecond more than a gap apart do not", [[0, 5 + 1 / MIN]]],
    ["a gap: two sessions", [[0, 3], [10]]],
    [
      "a late event bridges two sessions (12:06:30 joins [12:00,12:08) and [12:10,12:15))",
      [[0, 3], [10], [6.5]],
    ],
    ["the bridge arrives first", [[6.5], [0, 3], [10]]],
    ["a long chain across many bins", [[0, 4, 8, 12, 16, 20, 24], [40]]],
    ["bins with a run that does not continue the previous one", [[0, 9.5], [4.9]]],
    ["an empty bin between two runs breaks the chain", [[4.9, 10]]],
    ["out of order within a batch", [[12, 0, 8, 3, 30, 26]]],
  ])("%s", (_, minuteBatches) => {
    const batches = (minuteBatches as number[][]).map((b) =>
      b.map((m, i) => event("u1", m, 2 ** i)),
    );
    expect(binnedSessions(batches)).toEqual(sparkSessions(batches.flat()));
  });

  it("a redelivered batch (same source offsets) is applied once", () => {
    const first = [event("u1", 0), event("u1", 3)];
    const second = [event("u1", 6)];
    expect(binnedSessions([first, second, first, [...first, ...second]])).toEqual(
      sparkSessions([...first, ...second]),
    );
  });

  it("random traces: same sessions whatever the batch split", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    for (let round = 0; round < 200; round++) {
      const events = Array.from({ length: 1 + Math.floor(random() * 30) }, () =>
        event("u1", Math.floor(random() * 120 * 60) / 60, Math.floor(random() * 100)),
      );
      const batches: RepartitionedEvent[][] = [];
      for (const e of events) {
        if (batches.length === 0 || random() < 0.3) batches.push([]);
        batches.at(-1)?.push(e);
      }
      expect(binnedSessions(batches)).toEqual(sparkSessions(events));
    }
  });
});
