import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Kafka, logLevel } from "kafkajs";
import { createDocumentClient, createDynamoDbClient } from "../shared/dynamodb/client.ts";
import { type KafkaConnection, toKafkaJsConfig } from "../shared/kafka/connection.ts";
import { applyStartingOffsets } from "../shared/kafka/group-offsets.ts";
import {
  DEAD_LETTER_TOPIC_CONFIG,
  ensureTopics,
  OUTPUT_TOPIC_CONFIG,
} from "../shared/kafka/topics.ts";
import type { MskEvent } from "../shared/msk/event.ts";
import type { Pipeline } from "../shared/pipeline/pipeline.ts";
import {
  groupStartingOffsets,
  mappingStartingPosition,
} from "../shared/pipeline/starting-position.ts";
import {
  flushHandler,
  type HandlerDeps,
  parseFilterHandler,
  windowHandler,
} from "../shared/runtime/handlers.ts";
import { DynamoDbWindowStore } from "../shared/store/dynamodb-window-store.ts";
import { ensureStateTable } from "../shared/store/table.ts";
import type { WindowStore } from "../shared/store/window-store.ts";
import type { ParseFilterCounts } from "../shared/usecases/parse-filter.ts";
import { emptyWindowCounts, type WindowCounts } from "../shared/usecases/window-batch.ts";
import { EventSourceMappingRunner } from "./esm/runner.ts";
import type { StageProfile } from "./esm/stage-profile.ts";
import { startPatternSources } from "./pattern-sources.ts";
import { ProducerPool } from "./producer-pool.ts";

export interface LocalPipelineOptions {
  readonly pipeline: Pipeline;
  readonly kafka: KafkaConnection;
  readonly dynamoDbEndpoint: string | undefined;
  readonly tableName: string;
  /** Start new consumer groups at the earliest offsets instead of the pipeline's setting. */
  readonly fromEarliest: boolean;
  /** Partitions of source topics the pipeline creates when they do not exist. @default 3 */
  readonly sourcePartitions?: number;
  /** How often the flush function runs, as its schedule would. @default 5000 */
  readonly flushEveryMs?: number;
  /** The mappings' first retry backoff and its ceiling (tests shorten them). @default 200, 30000 */
  readonly retryBackoffMs?: number;
  readonly maxRetryBackoffMs?: number;
  /** The mappings' consumer-group session timeout (crash tests shorten it). @default 30000 */
  readonly sessionTimeoutMs?: number;
  /** How often a pattern source lists the topics again (new matches get a mapping). @default 30000 */
  readonly patternRefreshMs?: number;
  /** Wraps the state store the functions use (fault injection in tests). */
  readonly wrapStore?: (store: WindowStore) => WindowStore;
  /** The bench's per-stage timing (mappings, produce, DynamoDB calls); absent otherwise. */
  readonly profile?: StageProfile;
}

/** Running totals of every invocation, for the live view. */
export interface PipelineTotals {
  parse: ParseFilterCounts;
  window: Omit<WindowCounts, "watermarkMs">;
  flushEmitted: number;
  /**
   * Invocations that failed. Each is retried until it succeeds: as deployed, no mapping has an
   * on-failure destination, so AWS never skips a batch (README, "Exactly once").
   */
  failedInvocations: number;
}

/**
 * The pipeline's functions running locally, as `cdk deploy` wires them in AWS: one mapping per
 * source topic into the parse/filter handler, one on the repartition topic into the window
 * handler, and the flush handler on a timer. The handlers are the real ones.
 */
export async function startLocalPipeline(options: LocalPipelineOptions) {
  const { pipeline } = options;
  const kafka = new Kafka(
    toKafkaJsConfig(options.kafka, "sparkless-local", { logLevel: logLevel.ERROR }),
  );
  const admin = kafka.admin();
  await admin.connect();
  const { sourcePattern } = pipeline.topics;
  const sources = sourcePattern
    ? (await admin.listTopics()).filter((topic) => sourcePattern.test(topic))
    : pipeline.topics.sources;
  if (sources.length === 0) {
    throw new Error(
      `pipeline '${pipeline.name}': no topic matches source.topicPattern ${String(sourcePattern)}`,
    );
  }
  const created = await ensureTopics(admin, [
    ...sources.map((topic) => ({
      topic,
      numPartitions: options.sourcePartitions ?? 3,
    })),
    { topic: pipeline.topics.repartition, numPartitions: pipeline.partitions },
    { topic: pipeline.topics.deadLetter, numPartitions: 1, configs: DEAD_LETTER_TOPIC_CONFIG },
    { topic: pipeline.topics.late, numPartitions: 1 },
    {
      topic: pipeline.topics.output,
      numPartitions: 1,
      configs: OUTPUT_TOPIC_CONFIG,
    },
  ]);
  await ensureStateTable(createDynamoDbClient(options.dynamoDbEndpoint), options.tableName);
  // The window partitions' watermarks wait for every source partition (at most sourceIdle).
  const expectedSources = (await admin.fetchTopicMetadata({ topics: [...sources] })).topics.reduce(
    (sum, t) => sum + t.partitions.length,
    0,
  );

  // Handlers log through Powertools as in Lambda, quietly: the live view owns the terminal.
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  const producer = new ProducerPool(options.kafka, "sparkless-local-functions");
  const dynamoDbStore = new DynamoDbWindowStore(
    createDocumentClient(options.dynamoDbEndpoint),
    options.tableName,
  );
  const wrapped = options.wrapStore ? options.wrapStore(dynamoDbStore) : dynamoDbStore;
  const { profile } = options;
  const store = profile ? profile.wrap(wrapped, "dynamodb") : wrapped;
  const deps: HandlerDeps = {
    pipeline,
    store,
    send: profile
      ? (messages) => profile.time("produce", () => producer.send(messages))
      : (messages) => producer.send(messages),
    nowMs: Date.now,
    logger: new Logger({ serviceName: "sparkless-local", logLevel: "SILENT" }),
    metrics: new Metrics({ namespace: "sparkless" }),
    expectedSources,
  };
  const totals: PipelineTotals = {
    parse: { in: 0, valid: 0, filtered: 0, invalid: 0 },
    window: emptyWindowCounts(),
    flushEmitted: 0,
    failedInvocations: 0,
  };
  const counted =
    <T>(handler: (event: MskEvent) => Promise<T>) =>
    async (event: MskEvent): Promise<T> => {
      try {
        return await handler(event);
      } catch (error) {
        totals.failedInvocations++;
        throw error;
      }
    };
  // As deployed: no on-failure destination and AWS's default MaximumRetryAttempts (-1), so a
  // failing batch is retried until it succeeds and never skipped (README, "Exactly once").
  const mappingSettings = {
    ...(options.retryBackoffMs === undefined ? {} : { retryBackoffMs: options.retryBackoffMs }),
    ...(options.maxRetryBackoffMs === undefined
      ? {}
      : { maxRetryBackoffMs: options.maxRetryBackoffMs }),
    ...(options.sessionTimeoutMs === undefined
      ? {}
      : { sessionTimeoutMs: options.sessionTimeoutMs }),
  };
  const parse = parseFilterHandler(deps);
  const window = windowHandler(deps);
  const flush = flushHandler(deps);
  const startingPosition = options.fromEarliest
    ? "TRIM_HORIZON"
    : mappingStartingPosition(pipeline.name, pipeline.startingPosition);
  const groupPrefix = `sparkless-${pipeline.name}`;
  // Spark's per-partition offsets: committed on the group before its first consumer joins.
  const startingOffsets = options.fromEarliest
    ? undefined
    : groupStartingOffsets(pipeline.startingPosition, sources);
  if (!sourcePattern && startingOffsets && Object.keys(startingOffsets).length > 0)
    await applyStartingOffsets(admin, `${groupPrefix}-parse-filter`, startingOffsets);
  const parseRunner = (
    topics: readonly string[],
    consumerGroupId: string,
    position: typeof startingPosition,
  ) =>
    new EventSourceMappingRunner(
      options.kafka,
      {
        name: "parse-filter",
        topics,
        consumerGroupId,
        batchSize: pipeline.batchSize,
        maximumBatchingWindowMs: pipeline.maxBatchingWindowMs,
        startingPosition: position,
        ...mappingSettings,
        handler: counted(async (event) => add(totals.parse, await parse(event))),
      },
      profile,
    );
  // A pattern source gets one mapping per matching topic, started below and kept up to date.
  const runners = [
    ...(sourcePattern
      ? []
      : [parseRunner(sources, `${groupPrefix}-parse-filter`, startingPosition)]),
    new EventSourceMappingRunner(
      options.kafka,
      {
        name: "window",
        topics: [pipeline.topics.repartition],
        consumerGroupId: `${groupPrefix}-window`,
        batchSize: pipeline.repartitionBatchSize,
        maximumBatchingWindowMs: pipeline.repartitionBatchingWindowMs,
        startingPosition: "TRIM_HORIZON",
        ...mappingSettings,
        handler: counted(async (event) => {
          const { watermarkMs: _, ...counts } = await window(event);
          add(totals.window, counts);
        }),
      },
      profile,
    ),
  ];
  for (const runner of runners) await runner.start();
  const patternSources = sourcePattern
    ? await startPatternSources({
        pipeline,
        admin,
        runnerFor: (topic, group, position) => parseRunner([topic], group, position),
        startingPosition,
        applyOffsets: !options.fromEarliest,
        runners,
        everyMs: options.patternRefreshMs ?? 30_000,
      })
    : undefined;
  const flushTimer = setInterval(() => {
    flush().then(
      (c) => {
        totals.flushEmitted += c.emitted;
      },
      () => undefined, // retried on the next tick, as a failed scheduled invocation would be
    );
  }, options.flushEveryMs ?? 5_000);

  return {
    created,
    runners,
    store,
    totals,
    admin,
    async stop() {
      clearInterval(flushTimer);
      await patternSources?.stop();
      await Promise.all(runners.map((r) => r.stop()));
      await producer.disconnect();
      await admin.disconnect();
    },
  };
}

function add<T extends object>(into: T, counts: T): void {
  const target = into as Record<string, number | Record<string, number>>;
  for (const [k, v] of Object.entries(counts)) {
    if (typeof v === "number") target[k] = ((target[k] as number | undefined) ?? 0) + v;
    // Breakdowns (fields coerced to null, dead letters by reason) add up key by key.
    else if (v !== null && typeof v === "object") {
      target[k] ??= {};
      add(target[k] as object, v as object);
    }
  }
}
