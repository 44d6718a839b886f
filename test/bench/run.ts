import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cacheDir } from "../../localstack/paths.ts";
import { startServers, stopServers } from "../../localstack/servers.ts";
import { benchDynamoDbCost } from "./dynamodb-cost.bench.ts";
import { benchParse } from "./parse.bench.ts";

// `npm run bench [-- --quick]`: benchmarks, not tests. Prints a summary whose last line is the
// path of the JSON result file.
const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
const quick = values.quick ?? false;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

console.log(`sparkless bench (${quick ? "quick" : "full"}) on Node ${process.versions.node}\n`);
const parse = benchParse(quick ? 100_000 : 1_000_000);
console.log(`Hot path: ${fmt(parse.count)} realistic records of the default pipeline, one core`);
for (const row of parse.rows)
  console.log(`  ${row.label.padEnd(46)} ${fmt(row.eventsPerSec).padStart(12)} events/s`);
console.log(
  `  parse+validate+filter vs bare loop: ${(parse.ratioToBare * 100).toFixed(0)}% (target >= 70%)`,
);
console.log(
  `  full step vs bare floor with stringify: ${(parse.fullRatioToFloor * 100).toFixed(0)}%\n`,
);

const servers = await startServers({ profile: "bench", log: () => {} });
const costs = [];
try {
  const events = quick ? 5_000 : 20_000;
  for (const keys of [10, 1_000]) {
    costs.push(await benchDynamoDbCost(servers.dynamoDbEndpoint ?? "", keys, events, 1_000));
  }
} finally {
  await stopServers("bench");
}
console.log("DynamoDB per 1,000 events (window step, batches of 1,000, DynamoDB Local)");
console.log("  distinct keys   calls   write units   read units");
for (const c of costs) {
  console.log(
    `  ${String(c.distinctKeys).padStart(13)} ${c.callsPer1000.toFixed(1).padStart(7)} ${c.writeUnitsPer1000.toFixed(1).padStart(13)} ${c.readUnitsPer1000.toFixed(1).padStart(12)}`,
  );
}
const dir = join(cacheDir, "..", "bench");
mkdirSync(dir, { recursive: true });
const file = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ quick, node: process.versions.node, parse, dynamodb: costs }, null, 2)}\n`,
);
console.log(`\n${file}`);
