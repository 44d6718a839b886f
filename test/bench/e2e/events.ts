/**
 * The bench's input: events of the default pipeline's shape with a deterministic event clock,
 * and the window results Spark's semantics give for them, computed here independently.
 *
 * Events come in event-time order with a small jitter (far less than the 10-minute watermark)
 * and there are no late rows, so every batching of the stream gives the same results: the
 * windows whose end the final watermark reached.
 */
export interface BenchEvent {
  readonly partition: number;
  readonly user: string;
  readonly amount: number;
  readonly eventTimeMs: number;
  readonly value: string;
}

export interface EventClock {
  /** Event time the stream advances per event. */
  readonly stepMs: number;
  /** Each event's time is moved by up to ± this much: out of order, never late. */
  readonly jitterMs: number;
  readonly users: number;
  readonly partitions: number;
}

// A window boundary, so the first window is whole.
const START_MS = Date.UTC(2025, 0, 1, 12);
export const WINDOW_MS = 5 * 60_000;
export const WATERMARK_DELAY_MS = 10 * 60_000;

/** Event `i` of the stream: the same for both systems, however it is produced. */
export function benchEvent(i: number, clock: EventClock): BenchEvent {
  const random = seeded(i);
  const user = `u${Math.floor(random() * clock.users)}`;
  const amount = Math.floor(random() * 50_000) / 100; // cents: sums depend on summation order
  const eventTimeMs = START_MS + i * clock.stepMs + Math.round((random() * 2 - 1) * clock.jitterMs);
  const value = JSON.stringify({
    user,
    action: "buy",
    amount,
    event_time: new Date(eventTimeMs).toISOString(),
  });
  return { partition: i % clock.partitions, user, amount, eventTimeMs, value };
}

/** mulberry32 seeded per event, so event `i` never depends on the ones before it. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A window result: `user|startMs|endMs` identifies it. */
export interface WindowResult {
  readonly id: string;
  readonly endMs: number;
  readonly totalSpent: number;
}

/** Spark's final results for these events: every window the final watermark closed. */
export function expectedResults(events: readonly BenchEvent[]): Map<string, number> {
  const maxEventTimeMs = events.reduce((max, e) => Math.max(max, e.eventTimeMs), -Infinity);
  const watermarkMs = maxEventTimeMs - WATERMARK_DELAY_MS;
  const totals = new Map<string, number>();
  for (const e of events) {
    const startMs = Math.floor(e.eventTimeMs / WINDOW_MS) * WINDOW_MS;
    if (startMs + WINDOW_MS > watermarkMs) continue; // never closed: Spark never emits it
    const id = resultId(e.user, startMs, startMs + WINDOW_MS);
    totals.set(id, (totals.get(id) ?? 0) + e.amount);
  }
  return totals;
}

export const resultId = (user: string, startMs: number, endMs: number) =>
  `${user}|${startMs}|${endMs}`;

/** Parses one output record's value (Spark's `to_json(struct(*))`, ours the same). */
export function parseResult(value: string): WindowResult {
  const r = JSON.parse(value) as {
    window: { start: string; end: string };
    user: string;
    total_spent: number;
  };
  const endMs = Date.parse(r.window.end);
  return {
    id: resultId(r.user, Date.parse(r.window.start), endMs),
    endMs,
    totalSpent: r.total_spent,
  };
}

export interface ResultsComparison {
  matched: number;
  onlyInOurs: number;
  onlyInSpark: number;
  /** Present in both with total_spent differing by more than a relative 1e-9. */
  differing: number;
}

/** Compares two result sets window by window; summation order differs, so with a tolerance. */
export function compareResults(
  ours: ReadonlyMap<string, number>,
  spark: ReadonlyMap<string, number>,
): ResultsComparison {
  const comparison = { matched: 0, onlyInOurs: 0, onlyInSpark: 0, differing: 0 };
  for (const [id, total] of ours) {
    const other = spark.get(id);
    if (other === undefined) comparison.onlyInOurs++;
    else if (Math.abs(total - other) <= 1e-9 * Math.max(Math.abs(total), Math.abs(other)))
      comparison.matched++;
    else comparison.differing++;
  }
  for (const id of spark.keys()) if (!ours.has(id)) comparison.onlyInSpark++;
  return comparison;
}
