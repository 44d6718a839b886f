import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import type { Kafka } from "kafkajs";
import { ReusableProducer } from "../../../shared/kafka/producer.ts";
import { DEAD_LETTER_TOPIC_CONFIG, ensureTopics } from "../../../shared/kafka/topics.ts";
import type { MskEvent, MskEventRecord } from "../../../shared/msk/event.ts";
import type { Pipeline } from "../../../shared/pipeline/pipeline.ts";
import {
  flushHandler,
  type HandlerDeps,
  parseFilterHandler,
  windowHandler,
} from "../../../shared/runtime/handlers.ts";
import { DynamoDbWindowStore } from "../../../shared/store/dynamodb-window-store.ts";
import type { WindowStore } from "../../../shared/store/window-store.ts";
import type { ParseFilterCounts } from "../../../shared/usecases/parse-filter.ts";
import type { WindowCounts, WindowStep } from "../../../shared/usecases/window-batch.ts";
import { kafkaConnection, testDocumentClient } from "../helpers.ts";
import { TopicTail } from "./topic-tail.ts";

/** How the driver misbehaves, each like something Lambda's Kafka mapping really does. */
export interface Faults {
  /** Every window batch is delivered twice. */
  readonly deliverTwice?: boolean;
  /** A window batch "times out" after it ran, and is re-delivered from the same offset, bigger. */
  readonly redeliverLarger?: boolean;
  /** The parse step runs every batch twice (it timed out after producing). */
  readonly reproduceParse?: boolean;
  /** Two window invocations on the same partition and batch run at once. */
  readonly raceWindow?: boolean;
  /** Every third window invocation crashes at this step, and is retried. */
  readonly crashAt?: WindowStep;
  /** This share of DynamoDB calls fails as throttled, before or after it took effect. */
  readonly throttleShare?: number;
  /**
   * Every `every`-th window batch fails `times` times in a row before it succeeds, at a step that
   * moves on with each attempt (more than AWS's cap of 10, which applies only with an on-failure
   * destination — never configured: retries go on until success).
   */
  readonly failBatches?: { readonly every: number; readonly times: number };
}

export interface DriverTotals {
  parse: ParseFilterCounts;
  window: Pick<WindowCounts, "counted" | "late" | "duplicates" | "invalid">;
  crashes: number;
}

class InjectedCrash extends Error {}

const STEPS: readonly WindowStep[] = [
  "before-state",
  "between-state-writes",
  "after-state",
  "after-emit",
];

/**
 * The store with DynamoDB's throttling injected: a call fails (retriable, as the SDK reports an
 * exhausted ProvisionedThroughputExceeded) either before it reached the table or after it took
 * effect — the case where a retry must not apply anything twice.
 */
function throttled(store: WindowStore, share: number): WindowStore {
  let seed = 3;
  const unlucky = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31 < share;
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        if (unlucky()) throw new InjectedCrash("throttled before the call");
        const result = await value.apply(target, args);
        if (unlucky()) throw new InjectedCrash("throttled after the call took effect");
        return result;
      };
    },
  });
}

/**
 * Plays Lambda's Kafka event-source mappings for a pipeline, round-robin over partitions so the
 * partitions' event times stay together as live traffic does, with the real handlers, the real
 * broker and DynamoDB Local, and the faults asked for.
 */
export async function drivePipeline(
  kafka: Kafka,
  pipeline: Pipeline,
  tableName: string,
  sourcePartitions: number,
  batchSize: number,
  faults: Faults = {},
  // Records per source partition per round: small, so the partitions' event times stay within
  // a few minutes of each other — well inside the watermark delay, as in a live stream.
  parseBatchSize = 20,
): Promise<DriverTotals> {
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  const producer = new ReusableProducer(async () => kafkaConnection(), "driver");
  let windowInvocations = 0;
  let attemptsOfBatch = 0;
  let windowBatches = 0;
  const totals: DriverTotals = {
    parse: { in: 0, valid: 0, filtered: 0, invalid: 0 },
    window: { counted: 0, late: 0, duplicates: 0, invalid: 0 },
    crashes: 0,
  };
  const deps: HandlerDeps = {
    pipeline,
    store: throttled(
      new DynamoDbWindowStore(testDocumentClient(), tableName),
      faults.throttleShare ?? 0,
    ),
    send: (messages) => producer.send(messages),
    nowMs: Date.now,
    logger: new Logger({ logLevel: "ERROR" }),
    metrics: new Metrics({ namespace: "test" }),
    // The driver knows how many source partitions feed the pipeline (a deployment sets it too).
    expectedSources: sourcePartitions,
    checkpoint: (step) => {
      if (step === faults.crashAt && windowInvocations % 3 === 0) throw new InjectedCrash(step);
      // The target step moves on with each attempt; a step at or after it fails (always reached).
      const target = STEPS.indexOf(step) >= attemptsOfBatch % 3;
      const failing = faults.failBatches && windowBatches % faults.failBatches.every === 0;
      if (failing && attemptsOfBatch <= (faults.failBatches?.times ?? 0) && target)
        throw new InjectedCrash(`${step}, attempt ${attemptsOfBatch}`);
    },
  };
  const parse = parseFilterHandler(deps);
  const window = windowHandler(deps);
  const source = new TopicTail(kafka, pipeline.topics.sources[0] as string);
  const repartition = new TopicTail(kafka, pipeline.topics.repartition);
  await Promise.all([source.start(), repartition.start()]);

  const runWindow = async (records: MskEventRecord[]) => {
    attemptsOfBatch = 0;
    windowBatches++;
    for (;;) {
      windowInvocations++;
      attemptsOfBatch++;
      try {
        const outcomes = faults.raceWindow
          ? await Promise.all([window(event(records)), window(event(records))])
          : [await window(event(records))];
        if (faults.deliverTwice) outcomes.push(await window(event(records)));
        for (const c of outcomes) {
          totals.window.counted += c.counted;
          totals.window.late += c.late;
          totals.window.duplicates += c.duplicates;
          totals.window.invalid += c.invalid;
        }
        return;
      } catch (error) {
        if (!(error instanceof InjectedCrash)) throw error;
        totals.crashes++; // Lambda retries the same batch
      }
    }
  };

  try {
    await source.catchUp();
    for (;;) {
      let parsed = 0;
      for (let p = 0; p < sourcePartitions; p++) {
        const batch = source.next(p, parseBatchSize);
        parsed += batch.length;
        if (batch.length === 0) continue;
        const counts = await parse(event(batch)); // the parse step touches no store: no throttling
        if (faults.reproduceParse) await parse(event(batch));
        totals.parse.in += counts.in;
        totals.parse.valid += counts.valid;
        totals.parse.filtered += counts.filtered;
        totals.parse.invalid += counts.invalid;
      }
      await repartition.catchUp();
      for (const partition of [...repartition.all().keys()].sort()) {
        for (;;) {
          const from = repartition.cursor(partition);
          const batch = repartition.next(partition, batchSize);
          if (batch.length === 0) break;
          if (faults.redeliverLarger) {
            await runWindow(batch); // ran, but Lambda saw a timeout: redelivered, bigger
            const larger = repartition.slice(partition, from, from + 2 * batchSize);
            repartition.next(partition, larger.length - batch.length);
            await runWindow(larger);
          } else {
            await runWindow(batch);
          }
        }
      }
      if (parsed === 0) break;
    }
    // The schedule runs it later, when every partition has been quiet for a while.
    const flush = flushHandler({ ...deps, nowMs: () => Date.now() + 60_000 });
    for (;;) {
      try {
        await flush();
        break;
      } catch (error) {
        if (!(error instanceof InjectedCrash)) throw error;
        totals.crashes++; // the schedule runs it again
      }
    }
    return totals;
  } finally {
    await Promise.all([source.stop(), repartition.stop(), producer.disconnect()]);
  }
}

/** The event Lambda's Kafka mapping sends for these records, grouped by topic-partition. */
export function event(records: MskEventRecord[]): MskEvent {
  const grouped: Record<string, MskEventRecord[]> = {};
  for (const r of records) {
    const key = `${r.topic}-${r.partition}`;
    grouped[key] = [...(grouped[key] ?? []), r];
  }
  return {
    eventSource: "SelfManagedKafka",
    bootstrapServers: kafkaConnection().brokers.join(","),
    records: grouped,
  };
}

/** Creates the pipeline's topics, with `sourcePartitions` partitions on the source topic. */
export async function createPipelineTopics(
  kafka: Kafka,
  pipeline: Pipeline,
  sourcePartitions: number,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [
      { topic: pipeline.topics.sources[0] as string, numPartitions: sourcePartitions },
      { topic: pipeline.topics.repartition, numPartitions: pipeline.partitions },
      { topic: pipeline.topics.deadLetter, numPartitions: 1, configs: DEAD_LETTER_TOPIC_CONFIG },
      { topic: pipeline.topics.late, numPartitions: 1 },
      { topic: pipeline.topics.output, numPartitions: 1 },
    ]);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Produces a test's input to a source topic exactly once and checks it landed so: every
 * partition's end offset equals the records sent to it. A plain kafkajs producer re-sends a whole
 * request when one partition of it fails (e.g. "not the leader" just after the topic was created),
 * duplicating the partitions that were written; the input would then hold more events than the
 * trace the results are compared with. Idempotent, the broker drops the re-sent batches.
 */
export async function produceExactly(
  kafka: Kafka,
  topic: string,
  messages: ReadonlyArray<{ readonly value: string; readonly partition: number }>,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, messages: [...messages] });
  } finally {
    await producer.disconnect();
  }
  const sent = new Map<number, number>();
  for (const m of messages) sent.set(m.partition, (sent.get(m.partition) ?? 0) + 1);
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
      const landed = Number(high) - Number(low);
      if (landed !== (sent.get(partition) ?? 0)) {
        throw new Error(
          `input to ${topic} partition ${partition}: ${landed} records landed, ${sent.get(partition) ?? 0} sent`,
        );
      }
    }
  } finally {
    await admin.disconnect();
  }
}
