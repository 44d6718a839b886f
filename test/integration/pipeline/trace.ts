/**
 * A generated trace of the default pipeline's input and, computed here independently of the
 * engine, the results Spark's semantics give for it: 5-minute tumbling windows by user, sum of
 * amount, a 10-minute watermark, final (append) output of every window whose end the final
 * watermark reached. Late events are generated "clearly late" (30 minutes behind the stream),
 * so Spark's batch boundaries cannot change which they are.
 */
export interface TraceEvent {
  readonly partition: number;
  readonly value: string;
  readonly kind: "valid" | "late" | "filtered" | "invalid";
  readonly user?: string;
  readonly amount?: number;
  readonly eventTimeMs?: number;
}

const START_MS = Date.UTC(2025, 0, 1, 12);
const MINUTE = 60_000;

/** A deterministic trace of about `count` events over `partitions` source partitions. */
export function generateTrace(
  count: number,
  partitions: number,
  users = 10,
  seed = 7,
): TraceEvent[] {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const events: TraceEvent[] = [];
  for (let i = 0; i < count; i++) {
    const partition = i % partitions;
    const nowMs = START_MS + i * 2_400; // 2.4 s of event time per event
    const user = `u${Math.floor(random() * users)}`;
    const amount = Math.floor(random() * 400 + 1) * 0.25; // exact in binary: sums are exact
    if (i % 97 === 13) {
      events.push({ partition, value: `{"user": "${user}", "amount": `, kind: "invalid" });
    } else if (i % 89 === 7) {
      events.push({ partition, value: json(null, amount, nowMs), kind: "filtered" });
    } else if (i % 50 === 49 && nowMs - START_MS > 40 * MINUTE) {
      const eventTimeMs = nowMs - 30 * MINUTE;
      events.push({
        partition,
        value: json(user, amount, eventTimeMs),
        kind: "late",
        user,
        amount,
        eventTimeMs,
      });
    } else {
      const eventTimeMs = nowMs + Math.floor((random() - 0.5) * 2 * MINUTE);
      events.push({
        partition,
        value: json(user, amount, eventTimeMs),
        kind: "valid",
        user,
        amount,
        eventTimeMs,
      });
    }
  }
  return events;
}

function json(user: string | null, amount: number, eventTimeMs: number): string {
  return JSON.stringify({
    user,
    action: "buy",
    amount,
    event_time: new Date(eventTimeMs).toISOString(),
  });
}

/** The window results Spark gives for the trace: `user|startMs` → total_spent. */
export function expectedResults(trace: readonly TraceEvent[]): Map<string, number> {
  const onTime = trace.filter((e) => e.kind === "valid");
  const maxEventTimeMs = Math.max(...onTime.map((e) => e.eventTimeMs as number));
  const finalWatermarkMs = maxEventTimeMs - 10 * MINUTE;
  const totals = new Map<string, number>();
  for (const e of onTime) {
    const startMs = Math.floor((e.eventTimeMs as number) / (5 * MINUTE)) * 5 * MINUTE;
    if (startMs + 5 * MINUTE > finalWatermarkMs) continue; // never closed: Spark never emits it
    const key = `${e.user}|${startMs}`;
    totals.set(key, (totals.get(key) ?? 0) + (e.amount as number));
  }
  return totals;
}

/** Output records of the default pipeline as `user|startMs` → total_spent (a later copy wins). */
export function resultTotals(
  records: ReadonlyArray<{ readonly value?: string | null }>,
): Map<string, number> {
  const totals = new Map<string, number>();
  for (const record of records) {
    const result = JSON.parse(Buffer.from(record.value ?? "", "base64").toString()) as {
      window: { start: string };
      user: string;
      total_spent: number;
    };
    totals.set(`${result.user}|${Date.parse(result.window.start)}`, result.total_spent);
  }
  return totals;
}
