import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import type { Kafka, Message, TopicMessages } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReusableProducer } from "../../../shared/kafka/producer.ts";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import {
  flushHandler,
  type HandlerDeps,
  parseFilterHandler,
  windowHandler,
} from "../../../shared/runtime/handlers.ts";
import { DynamoDbWindowStore } from "../../../shared/store/dynamodb-window-store.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { FLUSH_QUIET_MS } from "../../../shared/usecases/flush.ts";
import {
  kafkaConnection,
  testDocumentClient,
  testDynamoDb,
  testKafka,
  uniqueName,
} from "../helpers.ts";
import { createPipelineTopics, event } from "./driver.ts";
import { TopicTail } from "./topic-tail.ts";

const MINUTE_MS = 60_000;
const WINDOW_MS = 5 * MINUTE_MS;
const T0_MS = Date.UTC(2025, 0, 1, 12);
const PARTITIONS = 2;
// Keys the producer's partitioner (murmur2, as Java's) sends to repartition partitions 1, 0, 1, 0.
const USERS = ["alice", "bob", "frank", "carol"];
const tableName = uniqueName("state");
let kafka: Kafka;

beforeAll(async () => {
  kafka = testKafka();
  await ensureStateTable(testDynamoDb(), tableName);
});

const open: Array<{ stop(): Promise<void> }> = [];
afterAll(() => Promise.all(open.map((h) => h.stop())));

/**
 * Issue 14's stalls on the real broker and DynamoDB Local: the default pipeline (watermark from
 * every source's progress) with 2 repartition partitions, and the test deciding which source is
 * produced and parsed and which repartition partition is windowed when — the schedules a Lambda
 * mapping produces when one of them is paused, quiet or slow. The wall clock is the test's: it
 * starts now and moves only by `advance`, and every record (source records, progress markers) is
 * stamped with it, as the broker would stamp them at that time.
 */
async function harness(sourceCount: number) {
  const name = uniqueName("stall");
  const pipeline = definePipeline({
    ...userSpending.definition,
    name,
    source: { ...userSpending.definition.source, topics: [`${name}.transactions`], batchSize: 10 },
    output: { topic: `${name}.out` },
    partitions: PARTITIONS,
    watermarkFrom: "sources",
    sourceIdle: "1 minute",
  });
  await createPipelineTopics(kafka, pipeline, sourceCount);
  const sourceTopic = pipeline.topics.sources[0] as string;

  let nowMs = Date.now();
  const stamped = (messages: Message[]) =>
    messages.map((m) => (m.timestamp === undefined ? { ...m, timestamp: String(nowMs) } : m));
  const producer = new ReusableProducer(async () => kafkaConnection(), uniqueName("stall"));
  const input = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await input.connect();
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  const deps: HandlerDeps = {
    pipeline,
    store: new DynamoDbWindowStore(testDocumentClient(), tableName),
    send: (topics: TopicMessages[]) =>
      producer.send(topics.map((t) => ({ ...t, messages: stamped(t.messages) }))),
    nowMs: () => nowMs,
    logger: new Logger({ logLevel: "ERROR" }),
    metrics: new Metrics({ namespace: "test" }),
    expectedSources: sourceCount,
  };
  const parse = parseFilterHandler(deps);
  const window = windowHandler(deps);
  const flush = flushHandler(deps);
  const source = new TopicTail(kafka, sourceTopic);
  const repartition = new TopicTail(kafka, pipeline.topics.repartition);
  const output = new TopicTail(kafka, pipeline.topics.output);
  await Promise.all([source.start(), repartition.start(), output.start()]);
  const h = {
    stop: () =>
      Promise.all([
        source.stop(),
        repartition.stop(),
        output.stop(),
        producer.disconnect(),
        input.disconnect(),
      ]).then(() => undefined),
  };
  open.push(h);

  const sentAmounts: Array<{ user: string; amount: number; eventTimeMs: number }> = [];
  let late = 0;
  const counted = Array.from({ length: PARTITIONS }, () => 0);
  return {
    advance: (ms: number) => {
      nowMs += ms;
    },
    /** One source batch of partition `s` (events at the given minutes after T0), then parsed. */
    async produce(s: number, minutes: readonly number[]) {
      const messages = minutes.map((m, i) => {
        const event = {
          user: USERS[(s + i) % USERS.length] as string,
          amount: 1 + sentAmounts.length,
          eventTimeMs: T0_MS + m * MINUTE_MS,
        };
        sentAmounts.push(event);
        const value = { user: event.user, amount: event.amount, event_time: m * 60 + T0_MS / 1000 };
        return { partition: s, value: JSON.stringify(value), timestamp: String(nowMs) };
      });
      await input.send({ topic: sourceTopic, messages });
      await source.catchUp();
      await parse(event(source.next(s, messages.length)));
    },
    /** Windows everything repartition partition `p` has not read yet, in batches. */
    async window(p: number, batchSize = 1_000) {
      await repartition.catchUp();
      for (let batch = repartition.next(p, batchSize); batch.length > 0; ) {
        const counts = await window(event(batch));
        late += counts.late;
        counted[p] = (counted[p] ?? 0) + counts.counted;
        batch = repartition.next(p, batchSize);
      }
    },
    flush,
    late: () => late,
    /** Events counted by repartition partition `p`'s invocations. */
    counted: (p: number) => counted[p] ?? 0,
    /** Emitted totals by `user|start ms`. */
    async results(): Promise<Map<string, number>> {
      await output.catchUp();
      const totals = new Map<string, number>();
      for (const r of [...output.all().values()].flat()) {
        const v = JSON.parse(Buffer.from(r.value ?? "", "base64").toString());
        totals.set(`${v.user}|${Date.parse(v.window.start)}`, v.total_spent);
      }
      return totals;
    },
    /** Every window's total over all events produced (nothing is late in these schedules). */
    expected(): Map<string, number> {
      const totals = new Map<string, number>();
      for (const e of sentAmounts) {
        const id = `${e.user}|${e.eventTimeMs - (e.eventTimeMs % WINDOW_MS)}`;
        totals.set(id, (totals.get(id) ?? 0) + e.amount);
      }
      return totals;
    },
  };
}

const minutes = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const endMinuteOf = (id: string) => (Number(id.split("|")[1]) - T0_MS + WINDOW_MS) / MINUTE_MS;

describe("issue 14 stalls with watermarkFrom 'sources', on the real broker and DynamoDB Local", () => {
  it("a repartition partition paused for longer than twice the delay loses nothing once resumed", async () => {
    // Prepare
    const h = await harness(2);

    // Act: both sources move 60 minutes of event time (six times the 10-minute delay) over 24
    // minutes of wall clock; partition 0 keeps up, partition 1 runs for the first 10 minutes and
    // is then paused (the flush runs every 2 minutes meanwhile); then it resumes in small batches.
    for (let m = 0; m < 60; m += 5) {
      await h.produce(0, minutes(m, m + 5));
      await h.produce(1, minutes(m, m + 5));
      await h.window(0);
      if (m < 10) await h.window(1);
      h.advance(2 * MINUTE_MS);
      await h.flush();
    }
    const lateWhilePaused = h.late();
    const countedBeforeResuming = h.counted(1);
    await h.window(1, 3);

    // Assess: nothing late (partition 1 counted its 50 paused minutes' events); every window the
    // watermark (minute 59 − 10) passed is out, complete.
    expect(h.counted(1)).toBeGreaterThan(countedBeforeResuming);
    expect(lateWhilePaused).toBe(0);
    expect(h.late()).toBe(0);
    const results = await h.results();
    const due = new Map([...h.expected()].filter(([id]) => endMinuteOf(id) <= 49));
    expect(results).toEqual(due);
  });

  it("a source that goes quiet stops holding the watermark after the idle time", async () => {
    // Prepare: source 1 stops at minute 9 (caught up: its batch was not full); source 0 goes on.
    const h = await harness(2);
    await h.produce(1, minutes(0, 9));
    for (let m = 0; m < 60; m += 5) await h.produce(0, minutes(m, m + 5));
    await h.window(0);
    await h.window(1);
    const held = (await h.results()).size;

    // Act: the idle time passes; source 0 sends more; the partitions' invocations and the flush run.
    h.advance(MINUTE_MS + FLUSH_QUIET_MS);
    await h.produce(0, minutes(60, 65));
    await h.window(0);
    await h.window(1);
    h.advance(FLUSH_QUIET_MS);
    await h.flush();

    // Assess: source 1 held every window back (its minute 8 − 10 min); once idle, the watermark
    // followed source 0 (minute 64 − 10): the windows ending up to minute 50 are out, complete.
    expect(held).toBe(0);
    const results = await h.results();
    expect(Math.max(...[...results.keys()].map(endMinuteOf))).toBe(50);
    const due = new Map([...h.expected()].filter(([id]) => endMinuteOf(id) <= 50));
    expect(results).toEqual(due);
    expect(h.late()).toBe(0);
  });

  it("a slow source that is behind holds results back and loses nothing", async () => {
    // Prepare: source 1 lags 40 minutes of event time behind source 0, with full batches (behind).
    const h = await harness(2);
    for (let m = 0; m < 60; m += 10) {
      await h.produce(0, minutes(m, m + 10));
      if (m >= 40) await h.produce(1, minutes(m - 40, m - 30));
      await h.window(0);
      await h.window(1);
    }

    // Act: long past the idle time (a source behind is never idle), then the slow source catches up.
    h.advance(10 * MINUTE_MS);
    await h.flush();
    const heldBack = await h.results();
    for (let m = 20; m < 60; m += 10) {
      await h.produce(1, minutes(m, m + 10));
      await h.window(0);
      await h.window(1);
    }

    // Assess: results waited for the slow source (nothing ended after its minute 19 − 10), none
    // of its events was late although source 0 was 40 minutes ahead, and every window is complete.
    expect(Math.max(5, ...[...heldBack.keys()].map(endMinuteOf))).toBeLessThanOrEqual(5);
    expect(h.late()).toBe(0);
    const results = await h.results();
    const due = new Map([...h.expected()].filter(([id]) => endMinuteOf(id) <= 45));
    expect(results).toEqual(due);
  });
});
