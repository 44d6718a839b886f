import { setTimeout as sleep } from "node:timers/promises";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, describe, expect, it } from "vitest";
import { restartKafka } from "../../../localstack/kafka.ts";
import { startLocalPipeline } from "../../../localstack/local-pipeline.ts";
import { stateDir } from "../../../localstack/paths.ts";
import { stopProcess } from "../../../localstack/process.ts";
import { startServers, stopServers, writeState } from "../../../localstack/servers.ts";
import { toKafkaJsConfig } from "../../../shared/kafka/connection.ts";
import { skippedBatches, uniqueName, until } from "../helpers.ts";
import { TopicTail } from "../pipeline/topic-tail.ts";
import { expectedResults, generateTrace, resultTotals } from "../pipeline/trace.ts";
import { lostWindows, reportHardening } from "../report.ts";
import { tracePipeline } from "./trace-pipeline.ts";

// A broker of its own (the shared one must stay up for the other tests), stopped mid-run and
// started again on the same storage: the pipeline resumes by itself and the results equal Spark's.
const PROFILE = `test-outage-${process.pid}`;
const trace = generateTrace(1_200, 1);
const expected = expectedResults(trace);
const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

describe("the broker going down and coming back", () => {
  it("resumes by itself and ends with the same results as without the outage", {
    timeout: 240_000,
  }, async () => {
    // Prepare
    const servers = await startServers({ profile: PROFILE, env: {}, log: () => {} });
    cleanups.push(() => stopServers(PROFILE));
    const kafka = servers.embedded.kafka;
    if (!kafka) throw new Error("the outage test needs its own embedded broker");
    const name = uniqueName("outage");
    const pipeline = tracePipeline(name);
    const local = await startLocalPipeline({
      pipeline,
      kafka: servers.kafka,
      dynamoDbEndpoint: servers.dynamoDbEndpoint,
      tableName: uniqueName("state"),
      fromEarliest: true,
      sourcePartitions: 1,
      flushEveryMs: 500,
    });
    cleanups.push(() => local.stop());
    const client = new Kafka(
      toKafkaJsConfig(servers.kafka, uniqueName("outage"), { logLevel: logLevel.NOTHING }),
    );
    const produce = async (values: readonly string[]) => {
      const producer = client.producer();
      await producer.connect();
      await producer.send({
        topic: pipeline.topics.sources[0] as string,
        messages: values.map((value) => ({ value })),
      });
      await producer.disconnect();
    };
    const half = trace.length / 2;
    await produce(trace.slice(0, half).map((e) => e.value));
    await until(
      () => local.totals.parse.in >= half / 2,
      "the first records to be processed",
      120_000,
    );

    // Act: down while the pipeline is busy, then back on the same storage.
    await stopProcess(kafka.pid, stateDir(PROFILE));
    await sleep(3_000);
    const restarted = await restartKafka(stateDir(PROFILE), kafka);
    // Recorded, so stopServers (or the orphan reaper after a killed run) stops the new process.
    writeState(PROFILE, { ...servers.embedded, kafka: restarted });
    cleanups.push(() => stopProcess(restarted.pid, stateDir(PROFILE)));
    await produce(trace.slice(half).map((e) => e.value));

    // Assess
    const output = new TopicTail(client, pipeline.topics.output);
    await output.start();
    cleanups.push(() => output.stop());
    const totals = () => resultTotals([...output.all().values()].flat());
    await until(() => totals().size >= expected.size, "every window result", 120_000);
    const out = [...output.all().values()].flat().length;
    reportHardening({
      case: "Kafka broker down and back",
      faults: "broker stopped mid-run for 3 s, restarted on its storage",
      rounds: 1,
      eventsIn: trace.length,
      resultsOut: out,
      lost: lostWindows(expected, totals()),
      duplicated: out - totals().size,
    });
    expect(totals()).toEqual(expected);
    expect(local.totals.parse.in).toBeGreaterThanOrEqual(trace.length);
    expect(skippedBatches(local.runners)).toBe(0);
  });
});
