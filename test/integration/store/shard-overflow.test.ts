import type { TopicMessages } from "kafkajs";
import { beforeAll, describe, expect, it } from "vitest";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { DynamoDbWindowStore } from "../../../shared/store/dynamodb-window-store.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { processWindowBatch } from "../../../shared/usecases/window-batch.ts";
import { repartitionRecord } from "../../fixtures/repartition-records.ts";
import { testDocumentClient, testDynamoDb, uniqueName } from "../helpers.ts";
import { runTool } from "../tools/run-tool.ts";

const MINUTE_MS = 60_000;
// 24,000 keys of ~60 bytes with their sums: ~1.9 MB of state in one bucket of one window, almost
// five times what one DynamoDB item (400 KB) holds.
const USERS = 24_000;
const BATCH = 4_000;

// Issue 13 §3: a key set that would overflow one shard must end with correct results, not with a
// batch that fails every retry. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
describe("window state larger than one DynamoDB item", () => {
  const tableName = uniqueName("overflow");
  beforeAll(() => ensureStateTable(testDynamoDb(), tableName));

  it("splits into more items and emits every key's correct total", async () => {
    // Prepare: one state bucket, so every key of the window lands in one shard.
    const pipeline = definePipeline({ ...userSpending.definition, partitions: 1, stateBuckets: 1 });
    const store = new DynamoDbWindowStore(testDocumentClient(), tableName);
    const results = new Map<string, number>();
    const deps = {
      pipeline,
      store,
      nowMs: () => 0,
      send: async (topics: TopicMessages[]) => {
        for (const t of topics.filter((t) => t.topic === pipeline.topics.output))
          for (const m of t.messages)
            results.set(String(m.key), JSON.parse(String(m.value)).total_spent);
      },
    };
    const user = (i: number) => `user-${String(i).padStart(6, "0")}-${"x".repeat(40)}`;
    let offset = 0;
    const record = (groupKey: string, eventTimeMs: number, amount: number) =>
      repartitionRecord(pipeline, {
        groupKey,
        eventTimeMs,
        row: { amount },
        source: "transactions/0",
        sourceOffset: offset++,
      });

    // Act: every user twice (two batches' worth each), then an event that closes the window.
    for (let round = 0; round < 2; round++) {
      for (let from = 0; from < USERS; from += BATCH) {
        const batch = Array.from({ length: BATCH }, (_, i) =>
          record(user(from + i), MINUTE_MS, from + i),
        );
        await processWindowBatch(batch, deps);
      }
    }
    // Issue 17: `npm run state` reads split shards' leaves, here while the window is open: one key
    // through the branch its hash routes it to, and every key of the window without one.
    const probe = user(12_345);
    const byKey = await runTool(
      "state",
      [pipeline.name, "--table", tableName, "--key", probe, "--json"],
      { timeoutMs: 60_000 },
    );
    const all = await runTool("state", [pipeline.name, "--table", tableName, "--top", "2"], {
      timeoutMs: 60_000,
    });
    await processWindowBatch([record("closer", 30 * MINUTE_MS, 1)], deps);

    // Assess
    const totals = [...results].filter(([key]) => key !== "closer");
    expect(totals).toHaveLength(USERS);
    for (const [key, total] of totals) expect(total).toBe(2 * Number(key.slice(5, 11)));
    const root = await store.getShards(pipeline.name, [
      { partition: 0, bucket: 0, startMs: 0, endMs: 5 * MINUTE_MS },
    ]);
    expect([...root.values()][0]?.split).toBe(true);
    expect(byKey.code, byKey.stderr).toBe(0);
    expect(JSON.parse(byKey.stdout).keys).toMatchObject([
      { groupKey: probe, startMs: 0, endMs: 5 * MINUTE_MS, values: { total_spent: 2 * 12_345 } },
    ]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain(`${USERS} key(s) in open windows; the 2 largest by total_spent:`);
    expect(all.stdout).toContain(`${user(USERS - 1)}  [`);
  }, 300_000);
});
