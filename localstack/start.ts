import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { toKafkaJsConfig } from "../shared/kafka/connection.ts";
import { pipelineNamed, pipelines } from "../shared/pipelines/index.ts";
import { startDemoProducer } from "./demo-producer.ts";
import { LocalServerError } from "./errors.ts";
import { emptyPartitionStats } from "./esm/mapping.ts";
import { eventClock, renderFrame, type ViewState } from "./live-view.ts";
import { startLocalPipeline } from "./local-pipeline.ts";
import { describe, readState, type Servers, startServers, stopServers } from "./servers.ts";

const USAGE = `Usage: npm start -- [options]

Runs a pipeline locally: starts Kafka (SASL_SSL/SCRAM-SHA-512) and DynamoDB Local (or uses the
external ones from KAFKA_BROKERS / AWS_ENDPOINT_URL_DYNAMODB), creates the topics and the state
table, runs the pipeline's functions through the local event-source-mapping runner, feeds a demo
producer, and shows a live view. Ctrl-C stops everything it started.

Options:
  --pipeline <name>   the pipeline to run (default: user-spending; known: ${[...pipelines.keys()].join(", ")})
  --no-producer       do not start the demo producer (feed it with: npm run produce -- transactions)
  --rate <n>          demo events per second (default 50)
  --speed <n>         the demo's event clock runs n times faster than the wall clock, so windows
                      close in seconds (default 60: one event-time minute per second; 1 = real time)
  --from-earliest     new consumer groups start at the earliest offsets
  --plain             print a status block every 5 s instead of refreshing in place (default when
                      stdout is not a terminal)
  --table <name>      the DynamoDB state table (default: sparkless-state)
  -h, --help          this text`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      pipeline: { type: "string", default: "user-spending" },
      "no-producer": { type: "boolean", default: false },
      rate: { type: "string", default: "50" },
      speed: { type: "string", default: "60" },
      "from-earliest": { type: "boolean", default: false },
      plain: { type: "boolean", default: !process.stdout.isTTY },
      table: { type: "string", default: "sparkless-state" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const pipeline = pipelineNamed(values.pipeline);
  const rate = positive(values.rate, "--rate");
  const speed = positive(values.speed, "--speed");

  const running = readState("dev");
  let servers: Servers;
  let startedServers = false;
  if (running?.kafka && running.dynamodb && !process.env.KAFKA_BROKERS) {
    servers = {
      kafka: running.kafka.connection,
      dynamoDbEndpoint: running.dynamodb.endpoint,
      embedded: running,
    };
    console.log(`Using the running local servers: ${describe(running)}`);
  } else {
    console.log("Starting the local servers (the first start downloads them from Maven Central)…");
    servers = await startServers({ profile: "dev", log: (line) => console.log(line) });
    startedServers = Boolean(servers.embedded.kafka || servers.embedded.dynamodb);
    console.log(`Ready: ${describe(servers.embedded) || "external servers"}`);
  }

  const local = await startLocalPipeline({
    pipeline,
    kafka: servers.kafka,
    dynamoDbEndpoint: servers.dynamoDbEndpoint,
    tableName: values.table,
    fromEarliest: values["from-earliest"],
  });
  if (local.created.length > 0) console.log(`Created topics: ${local.created.join(", ")}`);
  const source = pipeline.topics.sources[0];
  const demo =
    values["no-producer"] || !source
      ? undefined
      : await startDemoProducer({
          connection: servers.kafka,
          topic: source,
          ratePerSec: rate,
          speed,
        });
  const results = await tailResults(servers, pipeline.topics.output);

  const startedAtMs = Date.now();
  let previous = { at: startedAtMs, parseIn: 0, windowIn: 0, resultsOut: 0 };
  const frame = async (): Promise<string> => {
    const now = Date.now();
    const { totals } = local;
    const current = {
      at: now,
      parseIn: totals.parse.in,
      windowIn: totals.window.in,
      resultsOut: totals.window.emitted + totals.flushEmitted,
    };
    const seconds = Math.max((now - previous.at) / 1000, 0.001);
    const rates = {
      parseIn: (current.parseIn - previous.parseIn) / seconds,
      windowIn: (current.windowIn - previous.windowIn) / seconds,
      resultsOut: (current.resultsOut - previous.resultsOut) / seconds,
    };
    previous = current;
    const progress = await local.store.readProgress(pipeline.name);
    const mappings = [];
    for (const runner of local.runners) {
      const partitions: ViewState["mappings"][number]["partitions"] = {};
      for (const topic of runner.config.topics) {
        for (const { partition, high } of await local.admin.fetchTopicOffsets(topic)) {
          const stats = runner.snapshot()[`${topic}-${partition}`];
          const committed = stats?.committedOffset ?? 0;
          partitions[`${topic}-${partition}`] = {
            ...(stats ?? emptyPartitionStats()),
            lag: Math.max(Number(high) - committed, 0),
          };
        }
      }
      mappings.push({ name: runner.config.name, partitions });
    }
    return renderFrame({
      pipeline: pipeline.name,
      uptimeMs: now - startedAtMs,
      rates,
      totals,
      mappings,
      watermarkMs: progress.watermarkMs,
      ...eventClock(
        demo?.eventClockMs(),
        progress.partitions.map((p) => p.maxEventTimeMs),
      ),
      openEnds: progress.partitions.map((p) => ({ partition: p.partition, endsMs: p.openEndsMs })),
      latestResults: results.latest(),
      demoSent: demo?.sent(),
    });
  };

  const everyMs = values.plain ? 5_000 : 1_000;
  const timer = setInterval(() => {
    frame().then(
      (text) => {
        if (values.plain) console.log(`${text}\n`);
        else process.stdout.write(`\x1b[H\x1b[2J${text}\n`);
      },
      (error: unknown) => console.error(`live view: ${String(error)}`),
    );
  }, everyMs);

  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  clearInterval(timer);
  console.log(
    "\nStopping: demo producer, mappings (in-flight batches finish or stay uncommitted), servers…",
  );
  await demo?.stop();
  await local.stop();
  await results.stop();
  if (startedServers) await stopServers("dev");
  console.log("Stopped.");
  return 0;
}

/** Keeps the last few results of the output topic, decoded. */
async function tailResults(servers: Servers, topic: string) {
  const kafka = new Kafka(
    toKafkaJsConfig(servers.kafka, "sparkless-live-view", { logLevel: logLevel.NOTHING }),
  );
  const consumer = kafka.consumer({
    groupId: `sparkless-live-view-${process.pid}`,
    maxWaitTimeInMs: 200,
  });
  const latest: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      latest.push(`${message.key?.toString() ?? ""} → ${message.value?.toString() ?? ""}`);
      if (latest.length > 6) latest.shift();
    },
  });
  return { latest: () => [...latest].reverse(), stop: () => consumer.disconnect() };
}

function positive(raw: string | undefined, option: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new LocalServerError(`${option} must be a positive number, got '${raw}'`);
  return value;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error && error.name !== "Error" ? `\n${error.message}` : error);
    process.exit(1);
  },
);
