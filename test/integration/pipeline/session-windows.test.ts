import { beforeAll, describe, expect, it } from "vitest";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { testDynamoDb, testKafka, uniqueName } from "../helpers.ts";
import { createPipelineTopics, drivePipeline, type Faults, produceExactly } from "./driver.ts";
import { TopicTail } from "./topic-tail.ts";

const MIN_MS = 60_000;
const GAP_MS = 5 * MIN_MS;
const T0_MS = Date.UTC(2025, 0, 1, 12, 0, 0);
const SOURCE_PARTITIONS = 2;
const kafka = testKafka();
const tableName = uniqueName("state");

interface Event {
  readonly user: string;
  readonly amount: number;
  readonly eventTimeMs: number;
}

/**
 * Phase 1, in event-time order but for bridges arriving up to 4 minutes late (never late: the
 * watermark is 10 minutes behind the newest event, so no batching makes one late): per user,
 * bursts of events 1–4 minutes apart (one session each), gaps of 7–9 minutes between bursts (two
 * sessions), and in some gaps a bridge that merges the two bursts around it into one session.
 */
function phaseOne(): Event[] {
  let seed = 11;
  const random = () => {
    seed = (seed * 48_271) % 2_147_483_647;
    return seed / 2_147_483_647;
  };
  const byUser: Array<{ arriveMs: number; event: Event }> = [];
  for (let u = 0; u < 12; u++) {
    const user = `user-${u}`;
    let t = T0_MS + Math.floor(random() * 5) * MIN_MS;
    for (let burst = 0; burst < 4; burst++) {
      for (let i = 0; i < 2 + Math.floor(random() * 4); i++) {
        byUser.push({
          arriveMs: t,
          event: { user, amount: 1 + Math.floor(random() * 40) / 4, eventTimeMs: t },
        });
        t += (1 + Math.floor(random() * 4)) * MIN_MS;
      }
      const lastMs = t - MIN_MS; // not exactly the last event; the bridge below is within a gap of it either way
      const gapMs = (7 + Math.floor(random() * 3)) * MIN_MS;
      if (random() < 0.5) {
        // A bridge in the middle of the gap, arriving after the next burst has started.
        const bridgeMs = lastMs + Math.floor(gapMs / 2 / 1000) * 1000;
        byUser.push({
          arriveMs: bridgeMs + 4 * MIN_MS,
          event: { user, amount: 100, eventTimeMs: bridgeMs },
        });
      }
      t = lastMs + gapMs;
    }
  }
  return byUser.sort((a, b) => a.arriveMs - b.arriveMs).map((x) => x.event);
}

/** Spark's sessions for events none of which is late: per user, sorted, merged when at most a gap apart. */
function sparkSessions(events: readonly Event[]): Map<string, { total: number; n: number }> {
  const sessions = new Map<string, { total: number; n: number }>();
  const users = [...new Set(events.map((e) => e.user))];
  for (const user of users) {
    const sorted = events
      .filter((e) => e.user === user)
      .sort((a, b) => a.eventTimeMs - b.eventTimeMs);
    let current: { start: number; end: number; total: number; n: number } | undefined;
    const close = () => {
      if (current)
        sessions.set(`${user}|${current.start}|${current.end}`, {
          total: current.total,
          n: current.n,
        });
    };
    for (const e of sorted) {
      if (current && e.eventTimeMs <= current.end) {
        current.end = e.eventTimeMs + GAP_MS;
        current.total += e.amount;
        current.n++;
      } else {
        close();
        current = { start: e.eventTimeMs, end: e.eventTimeMs + GAP_MS, total: e.amount, n: 1 };
      }
    }
    close();
  }
  return sessions;
}

const json = (e: Event) =>
  JSON.stringify({
    user: e.user,
    action: "buy",
    amount: e.amount,
    event_time: new Date(e.eventTimeMs).toISOString(),
  });

async function readTopic(topic: string): Promise<unknown[]> {
  const tail = new TopicTail(kafka, topic);
  await tail.start();
  try {
    await tail.catchUp();
    return [...tail.all().values()]
      .flat()
      .map((r) => JSON.parse(Buffer.from(r.value ?? "", "base64").toString()));
  } finally {
    await tail.stop();
  }
}

beforeAll(() => ensureStateTable(testDynamoDb(), tableName));

/**
 * Produces more input after `before` landed, exactly once (idempotent producer), and checks every
 * partition then holds exactly what both sent (see produceExactly).
 */
async function produceMore(
  topic: string,
  before: ReadonlyArray<{ readonly partition: number }>,
  messages: ReadonlyArray<{ readonly value: string; readonly partition: number }>,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, messages: [...messages] });
  } finally {
    await producer.disconnect();
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const { partition, high } of await admin.fetchTopicOffsets(topic)) {
      const sent = [...before, ...messages].filter((m) => m.partition === partition).length;
      expect(Number(high), `records in ${topic} partition ${partition}`).toBe(sent);
    }
  } finally {
    await admin.disconnect();
  }
}

// Spark's micro-batches for this trace: phase 1 (nothing late in any batching), then the late
// events and one far-future event (its watermark passes every session of phase 1). The late
// events are 30+ minutes behind a watermark phase 1 already moved, so they are late in any
// batching too: Spark's result does not depend on batch boundaries.
describe.each<[string, Faults]>([
  ["no faults", {}],
  [
    "a crash between state writes, batches redelivered larger",
    { crashAt: "between-state-writes", redeliverLarger: true },
  ],
  [
    "batches delivered twice, a crash after emitting",
    { deliverTwice: true, crashAt: "after-emit" },
  ],
])("session windows on the real broker and DynamoDB Local (%s)", (_, faults) => {
  it("emit exactly Spark's sessions and aggregates, late events to the late topic", async () => {
    // Prepare
    const name = uniqueName("sessions");
    const pipeline = definePipeline({
      name,
      source: { topics: [`${name}.transactions`], startingPosition: "earliest" },
      schema: { user: "string", action: "string", amount: "double", event_time: "timestamp" },
      groupKey: "user",
      eventTime: "event_time",
      window: { type: "session", gap: "5 minutes" },
      watermark: "10 minutes",
      aggregations: [
        { fn: "sum", column: "amount", as: "total" },
        { fn: "count", as: "n" },
      ],
      output: { topic: `${name}.out` },
      partitions: 3,
      stateBuckets: 2,
    });
    await createPipelineTopics(kafka, pipeline, SOURCE_PARTITIONS);
    const one = phaseOne();
    const last = Math.max(...one.map((e) => e.eventTimeMs));
    const late = [0, 3, 7].map((u, i) => ({
      user: `user-${u}`,
      amount: 1_000,
      eventTimeMs: T0_MS + (5 + i) * MIN_MS,
    }));
    // One far event per source partition: every source's watermark passes phase 1.
    const far = [0, 1].map(() => ({ user: "far", amount: 1, eventTimeMs: last + 3 * 3_600_000 }));
    const source = pipeline.topics.sources[0] as string;
    const spread = (events: readonly Event[], from: number) =>
      events.map((e, i) => ({ value: json(e), partition: (from + i) % SOURCE_PARTITIONS }));

    // Act: phase 1 is processed (and flushed); then phase 2 arrives — the mapping re-reads the
    // source from the start (a redelivery of everything: duplicates, not counted twice).
    await produceExactly(kafka, source, spread(one, 0));
    const first = await drivePipeline(kafka, pipeline, tableName, SOURCE_PARTITIONS, 40, faults);
    await produceMore(source, spread(one, 0), spread([...late, ...far], 0));
    const second = await drivePipeline(kafka, pipeline, tableName, SOURCE_PARTITIONS, 40, faults);

    // Assess
    expect(first.window.late).toBe(0);
    const output = (await readTopic(pipeline.topics.output)) as Array<{
      session_window: { start: string; end: string };
      user: string;
      total: number;
      n: number;
    }>;
    const results = new Map(
      output.map((v) => [
        `${v.user}|${Date.parse(v.session_window.start)}|${Date.parse(v.session_window.end)}`,
        { total: v.total, n: v.n },
      ]),
    );
    const expected = sparkSessions(one);
    const valuesById = new Map<string, Set<string>>();
    for (const v of output) {
      const id = `${v.user}|${v.session_window.start}`;
      valuesById.set(id, (valuesById.get(id) ?? new Set()).add(JSON.stringify(v)));
    }
    expect([...valuesById.values()].filter((values) => values.size > 1)).toEqual([]); // re-sends identical
    expect(results).toEqual(expected);
    expect(expected.size).toBeGreaterThan(12 * 2); // bursts apart and bridged ones together
    if (!faults.deliverTwice && !faults.crashAt) expect(output).toHaveLength(expected.size); // no re-send without a crash
    const lateOut = (await readTopic(pipeline.topics.late)) as Array<{
      user: string;
      amount: number;
    }>;
    // A redelivered late event is reported again (the late topic is at least once).
    expect([...new Set(lateOut.map((e) => `${e.user}|${e.amount}`))].sort()).toEqual(
      late.map((e) => `${e.user}|${e.amount}`).sort(),
    );
    // Phase 1 again is duplicates only (an invocation that crashed after counting reports nothing).
    if (!faults.crashAt) expect(second.window.counted).toBe(far.length);
  }, 600_000);
});
