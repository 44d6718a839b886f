import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Admin } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testKafka, uniqueName } from "../helpers.ts";
import { runTool } from "./run-tool.ts";

// `npm run consume` and `npm run produce` as a user runs them (a child process, KAFKA_* in the
// environment) against the real broker (SASL_SSL/SCRAM-SHA-512) of the global setup.
// One file for both, so no other test's consume runs while these count consumer groups.

interface Consumed {
  partition: number;
  offset: number;
  timestamp: string;
  key: string | null;
  value: string | null;
}
const parseLines = (stdout: string): Consumed[] =>
  stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Consumed);

let admin: Admin;
const kafka = testKafka();

async function createTopic(partitions: number): Promise<string> {
  const topic = uniqueName("tools");
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions }],
    waitForLeaders: true,
  });
  return topic;
}

async function consumeGroups(): Promise<string[]> {
  const { groups } = await admin.listGroups();
  return groups.map((g) => g.groupId).filter((id) => id.startsWith("sparkless-consume"));
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
});
afterAll(() => admin.disconnect());

describe("npm run consume", () => {
  it("--from-beginning --exit prints every record there was at start, returns by itself and leaves no group", async () => {
    // Prepare: 30 records over 3 partitions.
    const topic = await createTopic(3);
    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 30 }, (_, i) => JSON.stringify({ n: i }));
    await producer.send({
      topic,
      messages: values.map((value, i) => ({ key: `k${i % 5}`, value })),
    });
    await producer.disconnect();
    expect(await consumeGroups()).toEqual([]);

    // Act
    const run = await runTool("consume", [topic, "--from-beginning", "--exit", "--json"]);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const records = parseLines(run.stdout);
    expect(records.map((r) => r.value).sort()).toEqual([...values].sort());
    expect(new Set(records.map((r) => `${r.partition}/${r.offset}`)).size).toBe(30);
    expect(await consumeGroups()).toEqual([]);
  });

  it("--exit on an empty topic returns at once with nothing; without --from-beginning it reads only new records", async () => {
    const topic = await createTopic(2);
    const empty = await runTool("consume", [topic, "--from-beginning", "--exit"]);
    expect([empty.code, empty.stdout]).toEqual([0, ""]);

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: "old" }] });
    await producer.disconnect();
    const latest = await runTool("consume", [topic, "--exit"]);
    expect([latest.code, latest.stdout]).toEqual([0, ""]);
    expect(await consumeGroups()).toEqual([]);
  });

  it("--max stops after n records even while following the topic", async () => {
    const topic = await createTopic(1);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })),
    });
    await producer.disconnect();

    const run = await runTool("consume", [topic, "--from-beginning", "--max", "4", "--json"]);

    expect(run.code, run.stderr).toBe(0);
    expect(parseLines(run.stdout).map((r) => r.value)).toEqual(["v0", "v1", "v2", "v3"]);
    expect(await consumeGroups()).toEqual([]);
  });

  it("--from <ISO time> starts at the first record stamped at or after it, in every partition", async () => {
    // Prepare: records stamped a minute apart, spread over 2 partitions.
    const topic = await createTopic(2);
    const t0 = Date.parse("2025-01-01T12:00:00Z");
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: 10 }, (_, i) => ({
        partition: i % 2,
        value: `m${i}`,
        timestamp: String(t0 + i * 60_000),
      })),
    });
    await producer.disconnect();

    // Act
    const run = await runTool("consume", [
      topic,
      "--from",
      "2025-01-01T12:05:00Z",
      "--exit",
      "--json",
    ]);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const records = parseLines(run.stdout);
    expect(records.map((r) => r.value).sort()).toEqual(["m5", "m6", "m7", "m8", "m9"]);
    expect(records.every((r) => Date.parse(r.timestamp) >= t0 + 5 * 60_000)).toBe(true);
  });

  it("refuses a topic that does not exist and a time that is not ISO-8601, saying what is wrong", async () => {
    const missing = await runTool("consume", [uniqueName("nope"), "--exit"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Topic 'nope-[0-9a-f]+' does not exist/);
    const badTime = await runTool("consume", ["x", "--from", "yesterday"]);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain("--from 'yesterday' is not an ISO-8601 time");
  });
});

describe("npm run produce", () => {
  it("reads stdin and --key keys each record by that JSON field", async () => {
    // Prepare
    const topic = await createTopic(3);
    const lines = [
      '{"user":"alice","amount":1}',
      '{"user":"bob","amount":2}',
      '{"user":42,"amount":3}',
      '{"amount":4}',
      "not json",
      "",
    ];

    // Act
    const produced = await runTool("produce", [topic, "--key", "user"], {
      stdin: `${lines.join("\n")}\n`,
    });
    const consumed = await runTool("consume", [topic, "--from-beginning", "--exit", "--json"]);

    // Assess
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stderr).toContain("Sent 5 records");
    expect(produced.stderr).toContain("2 had no 'user' field");
    const byValue = Object.fromEntries(parseLines(consumed.stdout).map((r) => [r.value, r.key]));
    expect(byValue).toEqual({
      '{"user":"alice","amount":1}': "alice",
      '{"user":"bob","amount":2}': "bob",
      '{"user":42,"amount":3}': "42",
      '{"amount":4}': null,
      "not json": null,
    });
  });

  it("reads a file, in order, without keys unless asked", async () => {
    const topic = await createTopic(1);
    const file = join(mkdtempSync(join(tmpdir(), "sparkless-produce-")), "events.jsonl");
    const lines = Array.from({ length: 1_200 }, (_, i) => JSON.stringify({ user: `u${i}`, i }));
    writeFileSync(file, `${lines.join("\n")}\n`);

    const produced = await runTool("produce", [topic, file]);
    const consumed = await runTool("consume", [topic, "--from-beginning", "--exit", "--json"]);

    expect(produced.code, produced.stderr).toBe(0);
    const records = parseLines(consumed.stdout);
    expect(records.map((r) => r.value)).toEqual(lines);
    expect(records.every((r) => r.key === null)).toBe(true);
    const missing = await runTool("produce", [topic, "/nonexistent/events.jsonl"]);
    expect([missing.code, missing.stderr.trim()]).toEqual([
      2,
      "No such file: /nonexistent/events.jsonl",
    ]);
  });
});
