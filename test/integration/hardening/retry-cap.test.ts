import { Kafka, logLevel } from "kafkajs";
import { afterAll, describe, expect, inject, it } from "vitest";
import { AWS_RETRY_CAP_WITH_DESTINATION, retryLimit } from "../../../localstack/esm/mapping.ts";
import { startLocalPipeline } from "../../../localstack/local-pipeline.ts";
import { toKafkaJsConfig } from "../../../shared/kafka/connection.ts";
import type { MskEventRecord } from "../../../shared/msk/event.ts";
import type { WindowStore } from "../../../shared/store/window-store.ts";
import { kafkaConnection, skippedBatches, uniqueName, until } from "../helpers.ts";
import { TopicTail } from "../pipeline/topic-tail.ts";
import {
  expectedResults,
  generateTrace,
  resultTotals,
  type TraceEvent,
} from "../pipeline/trace.ts";
import { lostWindows, reportHardening, resultsById } from "../report.ts";
import { tracePipeline } from "./trace-pipeline.ts";

// AWS caps a Kafka mapping's retries at 10 — and then commits past the batch — only when an
// on-failure destination is configured ("When you configure both infinite retries and an
// on-failure destination, Lambda automatically applies a maximum of 10 retry attempts"); without
// one, MaximumRetryAttempts defaults to -1 and a failing batch is retried until it succeeds.
// https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
// https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
// The pipeline configures no destination, so a window batch that fails more often than the cap
// (every DynamoDB call failing, before or after it took effect) is retried until DynamoDB is
// back, and nothing is lost: the results are Spark's, every on-time event counted once.
const FAILED_ATTEMPTS = 15;
const trace = generateTrace(1_200, 1);
const expected = expectedResults(trace);
const ofKind = (kind: TraceEvent["kind"]) => trace.filter((e) => e.kind === kind).length;
const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** Throttling as the SDK reports it once its own retries are exhausted. */
class Throttled extends Error {
  override readonly name = "ProvisionedThroughputExceededException";
}

/**
 * The store with an outage switch: while `down`, every call fails, half of them before reaching
 * the table and half after taking effect (a write applied whose answer was lost).
 */
function withOutage(store: WindowStore) {
  const state = { down: false, calls: 0 };
  const faulty = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        if (state.down && state.calls++ % 2 === 0) throw new Throttled("before the call");
        const result = await value.apply(target, args);
        if (state.down) throw new Throttled("after the call took effect");
        return result;
      };
    },
  });
  return { state, faulty };
}

describe("a window batch failing more often than AWS's retry cap", () => {
  it("is retried until DynamoDB is back, and ends with Spark's results", {
    timeout: 180_000,
  }, async () => {
    // Prepare
    const name = uniqueName("retry-cap");
    const pipeline = tracePipeline(name);
    let outage: ReturnType<typeof withOutage> | undefined;
    const local = await startLocalPipeline({
      pipeline,
      kafka: kafkaConnection(),
      dynamoDbEndpoint: inject("servers").dynamoDbEndpoint,
      tableName: uniqueName("state"),
      fromEarliest: true,
      sourcePartitions: 1,
      flushEveryMs: 500,
      retryBackoffMs: 20,
      maxRetryBackoffMs: 300,
      wrapStore: (store) => {
        outage = withOutage(store);
        return outage.faulty;
      },
    });
    cleanups.push(() => local.stop());
    const [, windowRunner] = local.runners;
    const windowStats = () => Object.values(windowRunner?.snapshot() ?? {});
    const windowErrors = () => windowStats().reduce((n, s) => n + s.errors, 0);
    const client = new Kafka(
      toKafkaJsConfig(kafkaConnection(), uniqueName("retry-cap"), { logLevel: logLevel.NOTHING }),
    );
    const producer = client.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({
      topic: pipeline.topics.sources[0] as string,
      messages: trace.map((e) => ({ value: e.value })),
    });
    await until(() => local.totals.window.in > 0, "the window function's first batches");

    // Act: DynamoDB fails every call until one window batch failed FAILED_ATTEMPTS times.
    const state = outage?.state as { down: boolean };
    const errorsBefore = windowErrors();
    state.down = true;
    await until(
      () => windowErrors() - errorsBefore >= FAILED_ATTEMPTS,
      `${FAILED_ATTEMPTS} failed attempts`,
    );
    state.down = false;

    // Assess: every result, a duplicate only as the same bytes.
    const output = new TopicTail(client, pipeline.topics.output);
    await output.start();
    cleanups.push(() => output.stop());
    const records = () => [...output.all().values()].flat() as MskEventRecord[];
    await until(() => resultsById(records()).size >= expected.size, "every window result");
    const byId = resultsById(records());
    const totals = resultTotals([...byId.values()]);
    const maxAttempts = Math.max(...windowStats().map((s) => s.maxAttempts));
    reportHardening({
      case: "window batch failing past AWS's retry cap",
      faults: `every DynamoDB call failed (before or after taking effect) for ${maxAttempts} attempts of one batch; AWS with a destination would skip it after ${1 + AWS_RETRY_CAP_WITH_DESTINATION}`,
      rounds: 1,
      eventsIn: trace.length,
      resultsOut: records().length,
      lost: lostWindows(expected, totals),
      duplicated: records().length - byId.size,
    });
    expect(totals).toEqual(expected);

    // Assess: one batch took more attempts than AWS's cap allows, none was skipped, no mapping
    // of the pipeline has a destination or a cap, and every on-time event was counted once.
    expect(maxAttempts).toBeGreaterThan(1 + AWS_RETRY_CAP_WITH_DESTINATION);
    expect(skippedBatches(local.runners)).toBe(0);
    for (const runner of local.runners) {
      expect(runner.config.onFailure).toBeUndefined();
      expect(retryLimit(runner.config)).toBe(Number.POSITIVE_INFINITY);
    }
    const { parse, window } = local.totals;
    await until(() => window.in >= parse.valid && parse.in >= trace.length, "the last batches");
    expect(window.counted + window.duplicates).toBe(ofKind("valid"));
    expect(window.late).toBe(ofKind("late"));
    expect(local.totals.failedInvocations).toBeGreaterThanOrEqual(FAILED_ATTEMPTS);
  });
});
