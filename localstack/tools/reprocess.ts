import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { toKafkaJsConfig } from "../../shared/kafka/connection.ts";
import { pipelineGeneration } from "../../shared/pipeline/generation.ts";
import { parseStartFrom } from "../../shared/pipeline/starting-position.ts";
import { pipelineNamed, pipelines } from "../../shared/pipelines/index.ts";
import { startLocalPipeline } from "../local-pipeline.ts";
import { readState } from "../servers.ts";
import { toolConnection } from "./connection.ts";
import { ToolUsageError } from "./errors.ts";

const USAGE = `Usage: npm run reprocess -- <pipeline> --from <start> [options]

Starts a new generation of a pipeline that reads its sources again from <start>: new consumer
groups (sparkless-<pipeline>-g<N>-…), new repartition/dead-letter/late topics and its own state
(<pipeline>-g<N> in the table), so nothing mixes with the previous generation. Runs it locally
until Ctrl-C, printing progress every 5 s. Stop the previous generation's 'npm start' yourself if
it should not run on; its state stays in the table.

<start>: earliest | latest | an ISO time with zone (2026-11-30T12:00:00Z) | Spark's offsets JSON
         ('{"transactions":{"0":23,"1":-2}}', -2 earliest, -1 latest; every partition listed)

Options:
  --to-topic <t>     write results to this topic instead of the pipeline's output topic
  --generation <n>   the generation number (default: one above the highest whose consumer group
                     exists on the local Kafka, at least 2)
  --table <name>     the DynamoDB state table (default: sparkless-state)
  --aws              print the deploy command that does the same in AWS, and exit
  -h, --help         this text
Pipelines: ${[...pipelines.keys()].join(", ")}`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      from: { type: "string" },
      "to-topic": { type: "string" },
      generation: { type: "string" },
      table: { type: "string", default: "sparkless-state" },
      aws: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [name] = positionals;
  if (values.help || !name || values.from === undefined) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const base = pipelineNamed(name);
  const startFrom = parseStartFrom(values.from);
  if (values.aws) {
    if (values.generation === undefined)
      throw new ToolUsageError("--aws needs --generation (one above the deployed one, 2 at first)");
    const context = [
      `-c sparkless:pipeline=${name}`,
      `-c sparkless:generation=${values.generation}`,
      `-c 'sparkless:startFrom=${values.from}'`,
      ...(values["to-topic"] ? [`-c sparkless:outputTopic=${values["to-topic"]}`] : []),
    ];
    console.log(`npx cdk deploy ${context.join(" ")}`);
    return 0;
  }
  const connection = toolConnection();
  const generation =
    values.generation === undefined
      ? await nextGeneration(connection, name)
      : Number(values.generation);
  const pipeline = pipelineGeneration(base, {
    generation,
    startFrom,
    ...(values["to-topic"] ? { outputTopic: values["to-topic"] } : {}),
  });
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? readState("dev")?.dynamodb?.endpoint;
  const local = await startLocalPipeline({
    pipeline,
    kafka: connection,
    dynamoDbEndpoint: endpoint,
    tableName: values.table,
    fromEarliest: false,
  });
  console.log(
    `Generation ${generation} of '${name}' runs as '${pipeline.name}' from ${values.from}; results to ${pipeline.topics.output}. Ctrl-C stops it.`,
  );
  const timer = setInterval(() => {
    const { parse, window, flushEmitted } = local.totals;
    console.log(
      `read ${parse.in}, valid ${parse.valid}, windowed ${window.in}, results ${window.emitted + flushEmitted}`,
    );
  }, 5_000);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  clearInterval(timer);
  await local.stop();
  return 0;
}

/** One above the highest generation whose parse/filter consumer group exists (at least 2). */
async function nextGeneration(
  connection: ReturnType<typeof toolConnection>,
  name: string,
): Promise<number> {
  const admin = new Kafka(
    toKafkaJsConfig(connection, "sparkless-reprocess", { logLevel: logLevel.ERROR }),
  ).admin();
  await admin.connect();
  try {
    const pattern = new RegExp(`^sparkless-${name}-g(\\d+)-parse-filter`);
    const { groups } = await admin.listGroups();
    const used = groups.map((g) => Number(pattern.exec(g.groupId)?.[1] ?? 1));
    return Math.max(1, ...used) + 1;
  } finally {
    await admin.disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof ToolUsageError ? 2 : 1);
  },
);
