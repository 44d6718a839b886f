import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "../../localstack/paths.ts";
import { startServers, stopServers } from "../../localstack/servers.ts";
import { userSpending } from "../../shared/pipelines/user-spending.ts";
import { barChartSvg, type Panel } from "./chart.ts";
import { costPerMillionEvents } from "./cost-model.ts";
import { benchDynamoDbCost } from "./dynamodb-cost.bench.ts";
import { benchEndToEnd, type EndToEndResult } from "./e2e/index.ts";
import { profileLines } from "./e2e/profile-report.ts";
import { benchHotPath } from "./parse.bench.ts";

// `npm run bench [-- --quick] [-- --no-e2e]`: benchmarks, not tests. Prints a summary whose last
// line is the path of the JSON result file; the chart (SVG) is written beside it.
const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "no-e2e": { type: "boolean", default: false },
    "e2e-only": { type: "boolean", default: false },
    "no-profile": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(`npm run bench [-- options]
  --quick    a smoke run: fewer events everywhere (minutes, not a quarter of an hour)
  --no-e2e   skip the end-to-end part (our pipeline and Spark on the local broker)
  --e2e-only only the end-to-end part (backlog and live, both systems side by side)
  --no-profile  no per-stage profile of our backlog run (it costs about 1%)`);
  process.exit(0);
}
const quick = values.quick ?? false;
const e2eOnly = values["e2e-only"] ?? false;
const log = (line: string) => console.log(line);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
/** The mean of a system's backlog rounds: what the table, the ratio and the chart show. */
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;

log(`sparkless bench (${quick ? "quick" : "full"}) on Node ${process.versions.node}\n`);
const hotCount = quick ? 100_000 : 1_000_000;
const hotPath = e2eOnly ? undefined : benchHotPath(hotCount, quick ? 3 : 5);
if (hotPath) {
  log(`1. Hot path: ${fmt(hotCount)} realistic records of the default pipeline, one core, no I/O…`);
  log(
    `   ${hotPath.floor.label.padEnd(48)} ${fmt(hotPath.floor.eventsPerSec).padStart(11)} events/s (${fmt(hotPath.windowFloor.eventsPerSec)} beside the window loops)`,
  );
  for (const row of hotPath.rows) {
    log(
      `   ${row.label.padEnd(48)} ${fmt(row.eventsPerSec).padStart(11)} events/s  ${pct(row.ratioToFloor).padStart(4)} of the floor`,
    );
  }
}

const servers = await startServers({ profile: "bench", log: () => {} });
const dynamodb = [];
let e2e: EndToEndResult | undefined;
try {
  if (!e2eOnly)
    log("\n2. DynamoDB work per 1,000 events (window step, batches of 1,000, DynamoDB Local)…");
  for (const distinctKeys of e2eOnly ? [] : [10, 1_000, 100_000]) {
    log(`   ${fmt(distinctKeys)} distinct users…`);
    dynamodb.push(
      await benchDynamoDbCost(servers.dynamoDbEndpoint ?? "", {
        distinctKeys,
        events: quick ? 30_000 : 120_000,
        naiveEvents: quick ? 2_000 : 10_000,
        batchSize: 1_000,
        eventsPerSecOfEventTime: 100,
      }),
    );
  }
  if (!values["no-e2e"]) {
    log("\n3./4. End to end: our pipeline and Spark on the same local broker…");
    e2e = await benchEndToEnd({
      servers,
      quick,
      log: (line) => log(`   ${line}`),
      profile: !values["no-profile"],
    });
  }
} finally {
  await stopServers("bench");
}

if (!e2eOnly) {
  log("\nDynamoDB per 1,000 events (one repartition partition, 100 events/s of event time)");
  log("   users     design   calls   write units   read units   write units vs naive");
}
for (const d of dynamodb) {
  for (const [design, c] of [
    ["sparkless", d.ours],
    ["naive", d.naive],
  ] as const) {
    log(
      `   ${fmt(d.distinctKeys).padStart(7)}  ${design.padEnd(9)} ${fmt(c.callsPer1000, 1).padStart(7)} ${fmt(c.writeUnitsPer1000, 1).padStart(13)} ${fmt(c.readUnitsPer1000, 1).padStart(12)}   ${design === "naive" ? "" : `${(d.naive.writeUnitsPer1000 / d.ours.writeUnitsPer1000).toFixed(1)}× fewer`}`,
    );
  }
}

const atBatch1000 = (prefix: string) =>
  hotPath?.rows.find((r) => r.label.startsWith(prefix) && r.label.endsWith("1,000"));
const thousandUsers = dynamodb.find((d) => d.distinctKeys === 1_000);
const cost = costPerMillionEvents({
  batchSize: 1_000,
  memoryMb: 1_024,
  parseEventsPerSec: atBatch1000("parse/filter")?.eventsPerSec ?? Number.NaN,
  windowMsPerBatch: thousandUsers?.ours.msPerBatch ?? Number.NaN,
  produceMsPerInvocation: 10,
  writeUnitsPer1000: thousandUsers?.ours.writeUnitsPer1000 ?? Number.NaN,
  readUnitsPer1000: thousandUsers?.ours.readUnitsPer1000 ?? Number.NaN,
  mskBrokers: 2,
  mskVolumeGb: 100,
});
if (!e2eOnly) {
  log(`\n5. Cost per million events (${cost.prices.region}, 1,000 users, batches of 1,000, 1 GB):`);
  log(
    `   Lambda $${cost.lambdaUsdPerMillion.toFixed(4)} (parse ${fmt(cost.parseMsPerInvocation, 1)} ms + window ${fmt(cost.windowMsPerInvocation, 1)} ms per batch) · DynamoDB $${cost.dynamoDbUsdPerMillion.toFixed(4)} · total $${cost.totalUsdPerMillion.toFixed(4)}`,
  );
  log(`   MSK apart: $${fmt(cost.mskMonthlyUsd)} a month (2 × kafka.m7g.large, 100 GB each)`);
}

if (e2e) {
  log("\nEnd to end (same broker, same input, one after the other)");
  log("   system      events/s   start-up   latency p50   p99       peak memory");
  for (const [name, s] of [
    ["sparkless", e2e.sparkless],
    ["Spark", e2e.spark],
  ] as const) {
    const memory = Object.entries(s.throughput.peakMemoryMb)
      .map(([process, mb]) => `${process} ${fmt(mb)} MB`)
      .join(", ");
    log(
      `   ${name.padEnd(10)} ${fmt(mean(s.throughputRounds)).padStart(9)} ${`${fmt(s.throughput.startupMs / 1000, 1)} s`.padStart(10)} ${`${fmt(s.latency.p50Ms)} ms`.padStart(13)} ${`${fmt(s.latency.p99Ms)} ms`.padStart(9)}   ${memory}`,
    );
  }
  const describe = (c: {
    matched: number;
    onlyInOurs: number;
    onlyInSpark: number;
    differing: number;
    valueBytes?: { inBoth: number; byteIdentical: number };
  }) =>
    `${fmt(c.matched)} matched, ${c.onlyInOurs} only ours, ${c.onlyInSpark} only Spark's, ${c.differing} differing` +
    (c.valueBytes
      ? `; ${fmt(c.valueBytes.byteIdentical)} of ${fmt(c.valueBytes.inBoth)} values byte-identical`
      : "");
  for (const [name, t] of [
    ["sparkless", e2e.sparkless.throughput],
    ["Spark", e2e.spark.throughput],
  ] as const) {
    if (!t.complete) log(`   ${name} did not produce every expected window on the backlog`);
  }
  const same = e2e.sameResults.throughput;
  log(
    `   backlog windows vs Spark: ${describe(same)} (of ${fmt(same.expected)}; ${e2e.sparkless.lateRowsOnBacklog} rows late on our side)`,
  );
  const single = e2e.sparkless.backlogWithOnePartition;
  if (single) {
    log(
      `   backlog with partitions: 1: ${fmt(single.throughput.eventsPerSec)} events/s, ${single.lateRows} late rows, ${describe(single.comparedToSpark)}`,
    );
  }
  log(`   live windows vs Spark: ${describe(e2e.sameResults.latency)}`);
  const ratio = mean(e2e.sparkless.throughputRounds) / mean(e2e.spark.throughputRounds);
  log(
    `   backlog rounds, alternating (events/s): ours ${e2e.sparkless.throughputRounds.map((n) => fmt(n)).join(", ")}; Spark ${e2e.spark.throughputRounds.map((n) => fmt(n)).join(", ")}; our unmeasured warm-up ${fmt(e2e.sparkless.warmUpEventsPerSec)}${e2e.sparkless.everyRoundEqualExpected ? "" : "; a later round of ours did NOT give the expected windows"}`,
  );
  log(
    `   backlog throughput ${ratio.toFixed(2)}× Spark's, mean of the rounds (target ≥ 1.5×); latency p50 ${e2e.sparkless.latency.p50Ms < e2e.spark.latency.p50Ms ? "below" : "NOT below"} Spark's, p99 ${e2e.sparkless.latency.p99Ms < e2e.spark.latency.p99Ms ? "below" : "NOT below"}`,
  );
  log(`   load average when the e2e part began and ended: ${e2e.loadAverage.join(" → ")}`);
  log("\nWhere our backlog run's time went (per stage; stages of parallel invocations add up)");
  for (const line of profileLines(e2e.sparkless.throughput)) log(`   ${line}`);
  log("   Spark on the same backlog:");
  for (const line of profileLines(e2e.spark.throughput)) log(`   ${line}`);
}

const panels: Panel[] = [
  ...(hotPath
    ? ([
        {
          title: `Hot path, events/s on one core (${fmt(hotCount)} records)`,
          format: (v: number) => fmt(v),
          bars: [
            { label: "floor: base64 + parse + stringify", value: hotPath.floor.eventsPerSec },
            ...hotPath.rows.map((r) => ({ label: r.label, value: r.eventsPerSec, ours: true })),
          ],
        },
        {
          title: "DynamoDB write units per 1,000 events (batches of 1,000)",
          format: (v: number) => fmt(v, 1),
          bars: dynamodb.flatMap((d) => [
            {
              label: `${fmt(d.distinctKeys)} users, sparkless`,
              value: d.ours.writeUnitsPer1000,
              ours: true,
            },
            {
              label: `${fmt(d.distinctKeys)} users, write per event`,
              value: d.naive.writeUnitsPer1000,
            },
          ]),
        },
      ] satisfies Panel[])
    : []),
  ...(e2e
    ? [
        {
          title: "End to end: events/s on a backlog (same broker, 2 cores)",
          format: (v: number) => fmt(v),
          bars: [
            { label: "sparkless", value: mean(e2e.sparkless.throughputRounds), ours: true },
            { label: "Spark local[2]", value: mean(e2e.spark.throughputRounds) },
          ],
        },
        {
          title: "End to end: watermark crossing → result, p99 ms",
          format: (v: number) => `${fmt(v)} ms`,
          bars: [
            { label: "sparkless", value: e2e.sparkless.latency.p99Ms, ours: true },
            { label: "Spark local[2]", value: e2e.spark.latency.p99Ms },
          ],
        },
      ]
    : []),
];
const dir = join(repoRoot, ".cache", "bench");
mkdirSync(dir, { recursive: true });
const stem = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, "-")}`);
writeFileSync(`${stem}.svg`, barChartSvg(`sparkless bench (${quick ? "quick" : "full"})`, panels));
writeFileSync(
  `${stem}.json`,
  `${JSON.stringify({ quick, node: process.versions.node, hotPath, dynamodb, cost, e2e, pipeline: { stateBuckets: userSpending.stateBuckets } }, null, 2)}\n`,
);
log(`\nChart: ${stem}.svg`);
console.log(`${stem}.json`);
