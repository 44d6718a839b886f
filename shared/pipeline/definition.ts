import type { Duration } from "./duration.ts";

/** Column types of a JSON value schema (Spark's names). Timestamps become epoch ms. */
export const FIELD_TYPES = ["string", "double", "long", "int", "boolean", "timestamp"] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** A schema field; a bare type means nullable, as in a Spark DDL schema. */
export type FieldSpec = FieldType | { readonly type: FieldType; readonly nullable?: boolean };

/** A parsed row: column name to value. Timestamps are epoch milliseconds. */
export type Row = Record<string, string | number | boolean | null>;

/** The Kafka record's own columns, reachable by filter and transform like Spark's `key`, `topic`, … */
export interface RecordMeta {
  readonly key: Buffer | null;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestampMs: number;
  readonly headers: ReadonlyArray<readonly [string, Buffer]>;
}

/**
 * A filter Lambda's event filtering can also apply before invocation (issue: filtered events cost
 * nothing): all conditions must hold.
 */
export interface DeclarativeFilter {
  /** Columns that must be present and not null (Spark: `col.isNotNull`). */
  readonly notNull?: readonly string[];
  /** Columns that must equal a value. */
  readonly equals?: Readonly<Record<string, string | number | boolean>>;
}

export type FilterFn = (row: Readonly<Row>, meta: RecordMeta) => boolean;

export type StartingPosition =
  | "earliest"
  | "latest"
  | { readonly timestampMs: number }
  | { readonly offsets: Readonly<Record<string, Readonly<Record<number, number>>>> };

export const AGGREGATE_FUNCTIONS = ["count", "sum", "min", "max", "avg"] as const;
export type AggregateFunction = (typeof AGGREGATE_FUNCTIONS)[number];

/** `sum("amount").alias("total_spent")` is `{ fn: "sum", column: "amount", as: "total_spent" }`. */
export interface AggregationSpec {
  readonly fn: AggregateFunction;
  /** The input column; omitted for `count` means `count(*)`. */
  readonly column?: string;
  readonly as: string;
}

export type WindowSpec =
  | { readonly type: "tumbling"; readonly size: Duration }
  | { readonly type: "sliding"; readonly size: Duration; readonly slide: Duration }
  /**
   * Spark's `session_window(col, gap)`: a key's events at most `gap` apart form one session
   * `[first event, last event + gap)`; final results only (Spark refuses update mode too).
   */
  | { readonly type: "session"; readonly gap: Duration };

/** A window result as the output encoder sees it. */
export interface WindowResult {
  readonly groupKey: string;
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  /** Aggregate values by output name, in definition order. */
  readonly values: Readonly<Record<string, number | null>>;
}

/** What a user writes: one of these per pipeline, passed to `definePipeline`. */
export interface PipelineDefinition {
  /** Lower-case letters, digits and dashes; names topics, consumer groups and state. */
  readonly name: string;
  readonly source: {
    /** Topics to read (Spark `subscribe`). */
    readonly topics?: readonly string[];
    /** Or a pattern (Spark `subscribePattern`), resolved against the cluster's topics at start. */
    readonly topicPattern?: string;
    /** @default "latest", as Spark's `startingOffsets` */
    readonly startingPosition?: StartingPosition;
    /** Records per invocation. @default 100 */
    readonly batchSize?: number;
    /**
     * How long the parse function's mapping gathers source records before invoking: `0` invokes
     * as soon as records arrive (lowest latency; at most one invocation in flight per source
     * partition, each costs a Lambda request), on AWS otherwise 500 ms or whole seconds up to
     * 300. @default "500 ms" (Lambda's default for Kafka)
     */
    readonly maxBatchingWindow?: Duration;
  };
  /** The JSON value's schema, e.g. `{ user: "string", amount: "double", event_time: "timestamp" }`. */
  readonly schema: Readonly<Record<string, FieldSpec>>;
  readonly filter?: DeclarativeFilter | FilterFn;
  /** Adds or replaces columns (Spark `withColumn`); runs after the filter. */
  readonly transform?: (row: Readonly<Row>, meta: RecordMeta) => Row;
  /** The column to group by; its value (as text) keys the window state and the output record. */
  readonly groupKey: string;
  /** The event-time column (a `timestamp` field). */
  readonly eventTime: string;
  readonly window: WindowSpec;
  /** Spark's `withWatermark` delay. */
  readonly watermark: Duration;
  readonly aggregations: readonly AggregationSpec[];
  /** `final` (Spark append): once per window, when the watermark passes its end. @default "final" */
  readonly emit?: "final" | "update";
  /** `drop` as Spark, or `topic`: send late events to `<name>.late` with how late they were. @default "topic" */
  readonly late?: "drop" | "topic";
  /** Beyond Spark: close due windows after this much wall-clock time without events. @default off */
  readonly idleClose?: Duration;
  /**
   * How the watermark is derived. `sources`: per repartition partition, the minimum over the
   * source partitions of their max event time, minus the delay (Flink's per-split watermarks), so
   * a backlog, a skewed or a stalled partition makes nothing late that Spark would count; results
   * may come later. `max`: Spark's formula applied as events arrive, one value shared by all
   * partitions (a partition that gets ahead can make another's events late). @default "sources"
   */
  readonly watermarkFrom?: "sources" | "max";
  /**
   * With `watermarkFrom: "sources"`: a source partition that sent nothing new for this long (wall
   * clock) and is not behind stops holding the watermark, until it sends again. @default "1 minute"
   */
  readonly sourceIdle?: Duration;
  /**
   * Beyond Spark: send a record to the dead-letter topic when any of its fields had to be set to
   * null (a token that does not fit the field's type), instead of keeping the row with the field
   * null as Spark's `from_json` does. @default false
   */
  readonly strict?: boolean;
  readonly output: {
    readonly topic: string;
    /** @default the group key as Spark's `CAST(<group key> AS STRING)` writes it (`1.0E7`, `2025-01-01 12:00:00.5`) */
    readonly key?: (result: WindowResult) => string;
    /** @default Spark's `to_json(struct(window, <group key>, <aggregates>))` */
    readonly value?: (result: WindowResult) => string;
  };
  /** Partitions of the repartition topic (the parallelism of the window function). @default 4 */
  readonly partitions?: number;
  /**
   * DynamoDB items a window starts with per repartition partition: group keys are hashed into
   * this many items, so a batch costs one write per item it touches, not one per key. An item
   * that would outgrow DynamoDB's 400 KB splits in two by itself, so one is enough for any key
   * count; more only help when windows hold tens of thousands of keys per partition (fewer read
   * rounds down split items, smaller rewrites). Like Spark's shuffle partitions it is part of the
   * state's layout: change it only on a drained pipeline. @default 1 (8 before 0.2: state
   * written then needs `stateBuckets: 8`)
   */
  readonly stateBuckets?: number;
  /**
   * How long the window function's mapping gathers repartition records before invoking. Each
   * invocation costs DynamoDB writes for every window it touches, so this sets the state's cost
   * on live traffic more than anything else. @default `source.maxBatchingWindow`
   */
  readonly repartitionBatchingWindow?: Duration;
  /**
   * The most repartition records per window invocation (1 to 10,000). A record packs a parse
   * batch's events for one partition (up to 64 Ki characters), so a batch is also bounded by
   * Lambda's 6 MB payload. Lower it to bound how many events one invocation takes (a late event
   * is judged against the watermark before its batch, as in Spark's micro-batches).
   * @default `source.batchSize`
   */
  readonly repartitionBatchSize?: number;
}
