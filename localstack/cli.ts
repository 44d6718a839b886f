import { parseArgs } from "node:util";
import { probeDynamoDb } from "./dynamodb.ts";
import { LocalServerError } from "./errors.ts";
import { probeKafka } from "./kafka.ts";
import { clientEnv, describe, readState, startServers, stopServers } from "./servers.ts";

const USAGE = `Usage: tsx localstack/cli.ts <command> [--wait]

Local Kafka (KRaft, SASL_SSL + SCRAM-SHA-512) and DynamoDB Local, from Maven Central jars.

  up        start both in the background and print the environment to reach them
  up --wait start both, stay in the foreground, stop them on Ctrl-C
  status    show what runs and whether it answers
  down      stop what 'up' started

Ports: SPARKLESS_KAFKA_PORT (9092), SPARKLESS_KAFKA_SASL_PORT (9096),
SPARKLESS_KAFKA_CONTROLLER_PORT (9093), SPARKLESS_DYNAMODB_PORT (8000); 0 = any free port.
Set KAFKA_BROKERS or AWS_ENDPOINT_URL_DYNAMODB to use external servers instead (see README).`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { wait: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  switch (command) {
    case "up":
      return up(values.wait ?? false);
    case "down":
      await stopServers("dev");
      console.log("Local servers stopped.");
      return 0;
    case "status":
      return status();
    default:
      console.error(`Unknown command '${command}'.\n\n${USAGE}`);
      return 2;
  }
}

async function up(wait: boolean): Promise<number> {
  const startedAt = Date.now();
  const servers = await startServers({ profile: "dev", log: (line) => console.log(line) });
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  console.log(`Ready in ${seconds} s: ${describe(servers.embedded) || "external servers only"}`);
  console.log("\nTo reach them from another shell:");
  for (const [name, value] of Object.entries(clientEnv(servers))) {
    console.log(`  export ${name}=${value}`);
  }
  const { kafka, dynamodb } = servers.embedded;
  console.log(`\nLogs: ${[kafka?.logFile, dynamodb?.logFile].filter(Boolean).join(", ")}`);
  if (!wait) {
    console.log("Stop them with: npm run infra:down");
    return 0;
  }
  console.log("Press Ctrl-C to stop.");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  console.log("\nStopping…");
  await stopServers("dev");
  return 0;
}

async function status(): Promise<number> {
  const embedded = readState("dev");
  if (!embedded) {
    console.log("No local servers are running (start them with 'npm run infra:up').");
    return 1;
  }
  const checks: Array<[string, Promise<void>]> = [];
  if (embedded.kafka) checks.push(["Kafka", probeKafka(embedded.kafka.connection)]);
  if (embedded.dynamodb) checks.push(["DynamoDB Local", probeDynamoDb(embedded.dynamodb.endpoint)]);
  console.log(describe(embedded));
  let healthy = true;
  for (const [what, check] of checks) {
    const outcome = await check.then(
      () => "answers",
      (error: unknown) => {
        healthy = false;
        return `does NOT answer: ${String(error)}`;
      },
    );
    console.log(`  ${what} ${outcome}`);
  }
  return healthy ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof LocalServerError ? `\n${error.message}` : error);
    process.exit(1);
  },
);
