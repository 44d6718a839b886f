// `npx tsx test/bench/e2e/main.ts [--quick]`: the end-to-end bench on servers of its own
// (profile bench-e2e), printing the result as JSON on stdout; progress goes to stderr.
import { parseArgs } from "node:util";
import { startServers, stopServers } from "../../../localstack/servers.ts";
import { benchEndToEnd } from "./index.ts";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
const log = (line: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`);
const servers = await startServers({ profile: "bench-e2e", log });
try {
  const result = await benchEndToEnd({ servers, quick: values.quick ?? false, log });
  console.log(JSON.stringify(result, null, 2));
} finally {
  await stopServers("bench-e2e");
}
