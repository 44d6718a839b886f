import { carriedColumns } from "../codec/repartition.ts";
import { type SparkJsonEncoder, sparkJsonEncoder, sparkKeyText } from "../codec/spark-json.ts";
import {
  AGGREGATE_FUNCTIONS,
  type AggregationSpec,
  type DeclarativeFilter,
  FIELD_TYPES,
  type FieldType,
  type FilterFn,
  type PipelineDefinition,
  type RecordMeta,
  type Row,
  type StartingPosition,
  type WindowResult,
} from "./definition.ts";
import { durationMs } from "./duration.ts";
import { PipelineDefinitionError } from "./errors.ts";
import { checkStartingPosition } from "./starting-position.ts";

/** A schema field after validation. */
export interface Field {
  readonly name: string;
  readonly type: FieldType;
  readonly nullable: boolean;
}

/** The topics a pipeline reads and writes; the derived ones are named after the pipeline. */
export interface PipelineTopics {
  readonly sources: readonly string[];
  readonly sourcePattern: RegExp | undefined;
  /** Valid events keyed by group key: the serverless equivalent of Spark's shuffle. */
  readonly repartition: string;
  /** Invalid records, original bytes, reason in headers. */
  readonly deadLetter: string;
  readonly late: string;
  readonly output: string;
}

/** A validated pipeline: everything in milliseconds, defaults applied, filter compiled. */
export interface Pipeline {
  readonly name: string;
  readonly definition: PipelineDefinition;
  readonly topics: PipelineTopics;
  readonly startingPosition: StartingPosition;
  // Each mapping's batch size and batching window: the parse function's (source topics), then
  // the window function's (repartition topic, whose records are packs of events).
  readonly batchSize: number;
  readonly repartitionBatchSize: number;
  readonly maxBatchingWindowMs: number;
  readonly repartitionBatchingWindowMs: number;
  readonly fields: readonly Field[];
  readonly filter: FilterFn | undefined;
  /** Set when the filter is declarative (then it can also run as Lambda event filtering). */
  readonly declarativeFilter: DeclarativeFilter | undefined;
  readonly transform: ((row: Readonly<Row>, meta: RecordMeta) => Row) | undefined;
  readonly groupKey: string;
  readonly eventTime: string;
  readonly windowSizeMs: number;
  readonly windowSlideMs: number;
  /**
   * Session windows: the gap. State is then kept in bins of one gap (`engine/sessions.ts`), and
   * `windowSizeMs` is a bin's span until it closes (2 gaps), `windowSlideMs` the gap.
   */
  readonly sessionGapMs: number | undefined;
  readonly watermarkDelayMs: number;
  readonly aggregations: readonly AggregationSpec[];
  /** The columns repartition records carry (what the aggregations read), in wire order. */
  readonly carriedColumns: readonly string[];
  readonly emit: "final" | "update";
  readonly late: "drop" | "topic";
  readonly idleCloseMs: number | undefined;
  readonly watermarkFrom: "sources" | "max";
  readonly sourceIdleMs: number;
  /** Dead-letter records with a field coerced to null (beyond Spark, which keeps the row). */
  readonly strict: boolean;
  readonly partitions: number;
  readonly stateBuckets: number;
  /** Spark's `CAST(<group key> AS STRING)` of a key's text in state (`1.0E7` for a double 1e7). */
  readonly groupKeyText: (key: string) => string;
  readonly outputKey: (result: WindowResult) => string;
  readonly outputValue: (result: WindowResult) => string;
}

const KNOWN_FIELDS = new Set<string>([
  "name",
  "source",
  "schema",
  "filter",
  "transform",
  "groupKey",
  "eventTime",
  "window",
  "watermark",
  "aggregations",
  "emit",
  "late",
  "idleClose",
  "watermarkFrom",
  "sourceIdle",
  "strict",
  "output",
  "partitions",
  "stateBuckets",
  "repartitionBatchingWindow",
  "repartitionBatchSize",
]);
const KNOWN_SOURCE_FIELDS = new Set([
  "topics",
  "topicPattern",
  "startingPosition",
  "batchSize",
  "maxBatchingWindow",
]);
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const NUMERIC_TYPES = new Set<FieldType>(["double", "long", "int"]);

/**
 * Validates a pipeline definition and returns it ready to run. Every mistake is reported with
 * the pipeline's name, the field, and what to write instead.
 */
export function definePipeline(definition: PipelineDefinition): Pipeline {
  const name = definition.name;
  const fail = (field: string, problem: string): never => {
    throw new PipelineDefinitionError(`pipeline '${name}': ${field}: ${problem}`);
  };
  if (typeof name !== "string" || !/^[a-z][a-z0-9-]{0,62}$/.test(name)) {
    throw new PipelineDefinitionError(
      `pipeline name '${String(name)}' must be lower-case letters, digits and dashes, starting with a letter`,
    );
  }
  for (const field of Object.keys(definition)) {
    if (!KNOWN_FIELDS.has(field))
      fail(field, `unknown field (known: ${[...KNOWN_FIELDS].join(", ")})`);
  }
  const source = definition.source ?? fail("source", "required");
  for (const field of Object.keys(source)) {
    if (!KNOWN_SOURCE_FIELDS.has(field)) fail(`source.${field}`, "unknown field");
  }

  const sources = source.topics ?? [];
  let sourcePattern: RegExp | undefined;
  if (sources.length > 0 === (source.topicPattern !== undefined)) {
    fail("source", "give either 'topics' (a non-empty list) or 'topicPattern', not both");
  }
  for (const topic of sources)
    if (!TOPIC_NAME.test(topic)) fail("source.topics", `'${topic}' is not a valid topic name`);
  if (source.topicPattern !== undefined) {
    try {
      sourcePattern = new RegExp(`^(?:${source.topicPattern})$`);
    } catch (error) {
      fail("source.topicPattern", `not a regular expression: ${String(error)}`);
    }
  }
  checkStartingPosition(name, source.startingPosition ?? "latest", sources, sourcePattern);
  // Lambda's range for a Kafka mapping's batch size, for each of the two mappings.
  const mappingBatchSize = (field: string, value: number): number => {
    if (!Number.isInteger(value) || value < 1 || value > 10_000)
      fail(field, `${value} must be an integer from 1 to 10000 (Lambda's limit for Kafka)`);
    return value;
  };
  const batchSize = mappingBatchSize("source.batchSize", source.batchSize ?? 100);
  const repartitionBatchSize = mappingBatchSize(
    "repartitionBatchSize",
    definition.repartitionBatchSize ?? batchSize,
  );
  const maxBatchingWindowMs = durationMs(
    source.maxBatchingWindow ?? 500,
    `pipeline '${name}': source.maxBatchingWindow`,
  );
  if (maxBatchingWindowMs < 0 || maxBatchingWindowMs > 300_000) {
    fail("source.maxBatchingWindow", "must be between 0 and 300 seconds (Lambda's limit)");
  }
  const repartitionBatchingWindowMs = durationMs(
    definition.repartitionBatchingWindow ?? maxBatchingWindowMs,
    `pipeline '${name}': repartitionBatchingWindow`,
  );
  if (repartitionBatchingWindowMs < 0 || repartitionBatchingWindowMs > 300_000) {
    fail("repartitionBatchingWindow", "must be between 0 and 300 seconds (Lambda's limit)");
  }

  const fields: Field[] = Object.entries(definition.schema ?? fail("schema", "required")).map(
    ([fieldName, spec]) => {
      const type = typeof spec === "string" ? spec : spec?.type;
      if (!(FIELD_TYPES as readonly string[]).includes(type as string)) {
        fail(
          `schema.${fieldName}`,
          `unknown type '${String(type)}' (use one of ${FIELD_TYPES.join(", ")})`,
        );
      }
      return {
        name: fieldName,
        type: type as FieldType,
        nullable: typeof spec === "string" || spec.nullable !== false,
      };
    },
  );
  if (fields.length === 0) fail("schema", "declare at least one field");
  const fieldType = new Map(fields.map((f) => [f.name, f.type]));
  const known = (column: string) => fieldType.has(column) || definition.transform !== undefined;

  if (!definition.groupKey || !known(definition.groupKey)) {
    fail("groupKey", `'${definition.groupKey}' is not a schema field`);
  }
  if (fieldType.get(definition.eventTime) !== "timestamp") {
    fail("eventTime", `'${definition.eventTime}' must be a schema field of type timestamp`);
  }

  const window = definition.window ?? fail("window", "required");
  if (window.type !== "tumbling" && window.type !== "sliding" && window.type !== "session")
    fail("window.type", "must be 'tumbling', 'sliding' or 'session'");
  const sessionGapMs =
    window.type === "session"
      ? durationMs(window.gap ?? fail("window.gap", "required"), `pipeline '${name}': window.gap`)
      : undefined;
  if (sessionGapMs !== undefined && sessionGapMs <= 0) fail("window.gap", "must be positive");
  const windowSizeMs =
    window.type === "session"
      ? 2 * (sessionGapMs as number)
      : durationMs(window.size, `pipeline '${name}': window.size`);
  const windowSlideMs =
    window.type === "sliding"
      ? durationMs(window.slide, `pipeline '${name}': window.slide`)
      : (sessionGapMs ?? windowSizeMs);
  if (windowSizeMs <= 0) fail("window.size", "must be positive");
  if (windowSlideMs <= 0) fail("window.slide", "must be positive");
  if (windowSlideMs > windowSizeMs) {
    fail(
      "window.slide",
      `'${String(window.type === "sliding" ? window.slide : "")}' is larger than window.size '${String(window.type === "sliding" ? window.size : "")}' (Spark requires slide <= size)`,
    );
  }
  const watermarkDelayMs = durationMs(
    definition.watermark ?? fail("watermark", "required"),
    `pipeline '${name}': watermark`,
  );
  if (watermarkDelayMs < 0) fail("watermark", "must not be negative");

  const aggregations = definition.aggregations ?? [];
  if (aggregations.length === 0)
    fail("aggregations", "declare at least one, e.g. { fn: 'count', as: 'events' }");
  const windowColumn = sessionGapMs === undefined ? "window" : "session_window";
  const outputNames = new Set<string>([windowColumn, definition.groupKey]);
  for (const [i, agg] of aggregations.entries()) {
    const where = `aggregations[${i}]`;
    if (!(AGGREGATE_FUNCTIONS as readonly string[]).includes(agg.fn)) {
      fail(`${where}.fn`, `unknown function '${agg.fn}' (use ${AGGREGATE_FUNCTIONS.join(", ")})`);
    }
    if (agg.column === undefined) {
      if (agg.fn !== "count") fail(`${where}.column`, `${agg.fn} needs a column`);
    } else if (!known(agg.column)) {
      fail(`${where}.column`, `'${agg.column}' is not a schema field`);
    } else if (
      agg.fn !== "count" &&
      fieldType.has(agg.column) &&
      !NUMERIC_TYPES.has(fieldType.get(agg.column) as FieldType)
    ) {
      fail(
        `${where}.column`,
        `${agg.fn} needs a numeric column; '${agg.column}' is ${fieldType.get(agg.column)}`,
      );
    }
    if (!agg.as || outputNames.has(agg.as))
      fail(`${where}.as`, `'${agg.as}' is empty or already an output column`);
    outputNames.add(agg.as);
  }

  const emit = definition.emit ?? "final";
  if (emit !== "final" && emit !== "update") fail("emit", `'${emit}' must be 'final' or 'update'`);
  if (sessionGapMs !== undefined && emit === "update") {
    fail(
      "emit",
      "'update' cannot be used with session windows (a session's result changes as sessions merge; Spark refuses it too: 'Update output mode not supported for session window'). Use 'final'",
    );
  }
  const late = definition.late ?? "topic";
  if (late !== "drop" && late !== "topic") fail("late", `'${late}' must be 'drop' or 'topic'`);
  const idleCloseMs =
    definition.idleClose === undefined
      ? undefined
      : durationMs(definition.idleClose, `pipeline '${name}': idleClose`);
  if (idleCloseMs !== undefined && idleCloseMs <= 0) fail("idleClose", "must be positive");
  const watermarkFrom = definition.watermarkFrom ?? "sources";
  if (watermarkFrom !== "sources" && watermarkFrom !== "max")
    fail("watermarkFrom", `'${watermarkFrom}' must be 'sources' or 'max'`);
  const sourceIdleMs = durationMs(
    definition.sourceIdle ?? "1 minute",
    `pipeline '${name}': sourceIdle`,
  );
  if (sourceIdleMs <= 0) fail("sourceIdle", "must be positive");
  const partitions = definition.partitions ?? 4;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000)
    fail("partitions", "must be an integer from 1 to 1000");
  const stateBuckets = definition.stateBuckets ?? 1;
  if (!Number.isInteger(stateBuckets) || stateBuckets < 1 || stateBuckets > 4096)
    fail("stateBuckets", "must be an integer from 1 to 4096");

  const output = definition.output ?? fail("output", "required");
  if (!TOPIC_NAME.test(output.topic ?? ""))
    fail("output.topic", `'${output.topic}' is not a valid topic name`);
  if (sources.includes(output.topic)) fail("output.topic", "must differ from the source topics");

  const { filter, declarativeFilter } = compileFilter(definition.filter, (column) => {
    if (!known(column)) fail("filter", `'${column}' is not a schema field`);
  });
  const strict = definition.strict ?? false;
  if (typeof strict !== "boolean") fail("strict", `'${String(strict)}' must be true or false`);
  // The output record's key: Spark's CAST(<group key> AS STRING), e.g. 1.0E7 for a double 1e7.
  const keyText = sparkKeyText(fieldType.get(definition.groupKey));
  const encoder: SparkJsonEncoder = sparkJsonEncoder(
    definition.groupKey,
    aggregations.map((a) => ({
      name: a.as,
      double: resultIsDouble(a, fieldType),
      neverNegativeZero: a.fn === "sum" || a.fn === "avg",
    })),
    fieldType.get(definition.groupKey),
    windowColumn,
  );
  return {
    name,
    definition,
    topics: {
      sources,
      sourcePattern,
      repartition: `${name}.repartition`,
      deadLetter: `${name}.dlq`,
      late: `${name}.late`,
      output: output.topic,
    },
    startingPosition: source.startingPosition ?? "latest",
    batchSize,
    repartitionBatchSize,
    maxBatchingWindowMs,
    repartitionBatchingWindowMs,
    fields,
    filter,
    declarativeFilter,
    transform: definition.transform,
    groupKey: definition.groupKey,
    eventTime: definition.eventTime,
    windowSizeMs,
    windowSlideMs,
    sessionGapMs,
    watermarkDelayMs,
    aggregations,
    // Session bins keep each run's first and last event time: the event time travels too.
    carriedColumns:
      sessionGapMs === undefined
        ? carriedColumns(aggregations)
        : [...new Set([...carriedColumns(aggregations), definition.eventTime])],
    emit,
    late,
    idleCloseMs,
    watermarkFrom,
    sourceIdleMs,
    strict,
    partitions,
    stateBuckets,
    groupKeyText: keyText,
    outputKey: output.key ?? ((result) => keyText(result.groupKey)),
    outputValue: output.value ?? encoder,
  };
}

// Spark's result types: count is a long; avg a double; sum/min/max of integers a long, else double.
function resultIsDouble(agg: AggregationSpec, fieldType: ReadonlyMap<string, FieldType>): boolean {
  if (agg.fn === "count") return false;
  if (agg.fn === "avg") return true;
  const type = agg.column === undefined ? undefined : fieldType.get(agg.column);
  return type !== "long" && type !== "int";
}

function compileFilter(
  filter: PipelineDefinition["filter"],
  checkColumn: (column: string) => void,
): { filter: FilterFn | undefined; declarativeFilter: DeclarativeFilter | undefined } {
  if (filter === undefined) return { filter: undefined, declarativeFilter: undefined };
  if (typeof filter === "function") return { filter, declarativeFilter: undefined };
  const notNull = filter.notNull ?? [];
  const equals = Object.entries(filter.equals ?? {});
  for (const column of [...notNull, ...equals.map(([c]) => c)]) checkColumn(column);
  return {
    declarativeFilter: filter,
    filter: (row) => {
      for (const column of notNull)
        if (row[column] === null || row[column] === undefined) return false;
      for (const [column, value] of equals) if (row[column] !== value) return false;
      return true;
    },
  };
}
