import type { TopicMessages } from "kafkajs";
import { beforeAll, describe, expect, it } from "vitest";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { DynamoDbWindowStore } from "../../../shared/store/dynamodb-window-store.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { processWindowBatch } from "../../../shared/usecases/window-batch.ts";
import { repartitionRecord } from "../../fixtures/repartition-records.ts";
import { testDocumentClient, testDynamoDb, uniqueName } from "../helpers.ts";
import { runTool } from "./run-tool.ts";

// `npm run state` as a user runs it, on state the real window use case wrote to DynamoDB Local.
const pipeline = userSpending;
const at = (hhmm: string) => Date.parse(`2025-01-01T${hhmm}:00Z`);
const iso = (hhmm: string) => `2025-01-01T${hhmm}:00.000Z`;
const tableName = uniqueName("state-tool");
const sent: TopicMessages[] = [];

beforeAll(async () => {
  // Prepare: repartition partition 0 holds alice, bob (12:00–12:05) and carol (12:05–12:10);
  // partition 1 then sees dave at 12:16, which moves the watermark to 12:06: partition 0's first
  // window is due, and stays open until partition 0's next batch or the flush.
  await ensureStateTable(testDynamoDb(), tableName);
  const store = new DynamoDbWindowStore(testDocumentClient(), tableName);
  const deps = {
    pipeline,
    store,
    send: async (t: TopicMessages[]) => void sent.push(...t),
    nowMs: Date.now,
  };
  const event = (offset: number, user: string, hhmm: string, amount: number) => ({
    groupKey: user,
    eventTimeMs: at(hhmm),
    row: { amount },
    source: "transactions/0",
    sourceOffset: offset,
  });
  await processWindowBatch(
    [
      repartitionRecord(pipeline, event(0, "alice", "12:01", 10), 0),
      repartitionRecord(pipeline, event(1, "bob", "12:02", 5), 0),
      repartitionRecord(pipeline, event(2, "alice", "12:03", 2.5), 0),
      repartitionRecord(pipeline, event(3, "carol", "12:07", 1), 0),
    ],
    deps,
  );
  await processWindowBatch([repartitionRecord(pipeline, event(4, "dave", "12:16", 7), 1)], deps);
});

describe("npm run state", () => {
  it("--key prints the key's open windows with their aggregates, the watermark and what is due", async () => {
    const run = await runTool("state", [pipeline.name, "--table", tableName, "--key", "alice"]);

    expect(run.code, run.stderr).toBe(0);
    expect(sent.flatMap((t) => t.messages)).toEqual([]); // nothing emitted yet: the window is only due
    expect(run.stdout).toContain(`watermark ${iso("12:06")} · newest event ${iso("12:16")}`);
    expect(run.stdout).toContain("due (the watermark passed their end");
    expect(run.stdout).toContain("p0 12:05:00");
    expect(run.stdout).toContain('key "alice": 1 open window(s)');
    expect(run.stdout).toContain(
      `alice  [${iso("12:00")}, ${iso("12:05")})  p0  total_spent=12.5  due`,
    );
    expect(run.stdout).not.toContain("bob  [");
  });

  it("without --key prints the busiest keys by the first aggregation", async () => {
    const run = await runTool("state", [pipeline.name, "--table", tableName, "--top", "2"]);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("4 key(s) in open windows; the 2 largest by total_spent:");
    expect(run.stdout).toContain(
      `alice  [${iso("12:00")}, ${iso("12:05")})  p0  total_spent=12.5  due`,
    );
    expect(run.stdout).toContain(
      `dave  [${iso("12:15")}, ${iso("12:20")})  p1  total_spent=7  open`,
    );
    expect(run.stdout).not.toMatch(/bob|carol/);
  });

  it("--json gives the same report to scripts", async () => {
    const run = await runTool("state", [
      pipeline.name,
      "--table",
      tableName,
      "--key",
      "carol",
      "--json",
    ]);

    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      table: tableName,
      pipeline: "user-spending",
      watermarkMs: at("12:06"),
      maxEventTimeMs: at("12:16"),
      keys: [
        {
          groupKey: "carol",
          partition: 0,
          startMs: at("12:05"),
          endMs: at("12:10"),
          values: { total_spent: 1 },
          due: false,
          closed: false,
        },
      ],
    });
    expect(report.partitions.map((p: { dueEndsMs: number[] }) => p.dueEndsMs)).toEqual([
      [at("12:05")],
      [],
    ]);
  });

  it("says so when a key is in no open window, and names a missing table", async () => {
    const absent = await runTool("state", [pipeline.name, "--table", tableName, "--key", "zoe"]);
    expect(absent.stdout).toContain('key "zoe": no open window holds it');
    const missing = await runTool("state", [pipeline.name, "--table", "no-such-table"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("No table 'no-such-table'");
  });
});
