// `npx tsx test/bench/e2e/dynamodb-call-cost.ts`: what one conditional write costs DynamoDB Local
// in CPU (its process) and the client (this process), one at a time and 8 at once: the unit in
// which the window step's throughput on a 2-core machine is paid (README, Benchmarks).
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { startServers, stopServers } from "../../../localstack/servers.ts";
import { createDocumentClient, createDynamoDbClient } from "../../../shared/dynamodb/client.ts";
import { ensureStateTable } from "../../../shared/store/table.ts";
import { cpuSeconds } from "./memory.ts";

const CALLS = 2_000;
const servers = await startServers({ profile: "bench-dynamodb-calls", log: () => {} });
try {
  const endpoint = servers.dynamoDbEndpoint;
  const pid = servers.embedded.dynamodb?.pid;
  if (pid === undefined) throw new Error("needs the embedded DynamoDB Local (its CPU is measured)");
  const table = `calls-${Date.now()}`;
  await ensureStateTable(createDynamoDbClient(endpoint), table);
  const client = createDocumentClient(endpoint);
  // An item like a window shard of ~30 keys (about 1 KB), written as the protocol does.
  const entries = JSON.stringify(
    Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`u${i}`, { sum: i * 1.5 }])),
  );
  const put = (i: number, round: string) =>
    client.send(
      new PutCommand({
        TableName: table,
        Item: { pk: `w#calls#${round}#${i % 8}`, sk: `${i}`, entries, version: 1 },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  for (let i = 0; i < 300; i++) await put(i, "warm-up"); // JIT warm-up, not measured
  for (const concurrency of [1, 8]) {
    const round = `c${concurrency}`;
    const [serverBefore, clientBefore, startMs] = [
      cpuSeconds(pid) ?? 0,
      process.cpuUsage(),
      Date.now(),
    ];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < CALLS; i = next++) await put(i, round);
      }),
    );
    const wallMs = Date.now() - startMs;
    const serverMs = ((cpuSeconds(pid) ?? 0) - serverBefore) * 1000;
    const used = process.cpuUsage(clientBefore);
    const clientMs = (used.user + used.system) / 1000;
    console.log(
      `${concurrency} at once: ${(wallMs / CALLS).toFixed(2)} ms per call, ${Math.round((CALLS * 1000) / wallMs)} calls/s; CPU per call: DynamoDB Local ${(serverMs / CALLS).toFixed(2)} ms, client ${(clientMs / CALLS).toFixed(2)} ms`,
    );
  }
} finally {
  await stopServers("bench-dynamodb-calls");
}
