// `npx tsx test/bench/e2e/main.ts [--quick] [--profile]`: the end-to-end bench on servers of its
// own (profile bench-e2e), printing the result as JSON on stdout; progress goes to stderr.
// `--sparkless-backlog` runs only our pipeline on the backlog (no Spark, no live part), for
// profiling between full runs; `--cpu-prof` then also writes a V8 CPU profile to its log folder,
// `--batch-size N` tries another batch size than the default pipeline's, `--watermark-from max`
// Spark's watermark rule instead of the default. `--sparkless-live` measures only our latency on
// the live sequence.
import { parseArgs } from "node:util";
import { startServers, stopServers } from "../../../localstack/servers.ts";
import { benchEndToEnd, benchSparklessBacklog, benchSparklessLive } from "./index.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    "sparkless-backlog": { type: "boolean", default: false },
    "sparkless-live": { type: "boolean", default: false },
    "cpu-prof": { type: "boolean", default: false },
    "batch-size": { type: "string" },
    "watermark-from": { type: "string" },
  },
});
const log = (line: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`);
const servers = await startServers({ profile: "bench-e2e", log });
try {
  const options = {
    servers,
    quick: values.quick ?? false,
    log,
    profile: values.profile ?? false,
  };
  const result = values["sparkless-backlog"]
    ? await benchSparklessBacklog({
        ...options,
        cpuProf: values["cpu-prof"] ?? false,
        ...(values["batch-size"] ? { batchSize: Number(values["batch-size"]) } : {}),
        ...(values["watermark-from"] === "max" ? { watermarkFrom: "max" as const } : {}),
      })
    : values["sparkless-live"]
      ? await benchSparklessLive(options) // `--profile` adds invocation counts
      : await benchEndToEnd(options);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await stopServers("bench-e2e");
}
