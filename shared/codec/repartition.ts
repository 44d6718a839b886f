import type { AggregationSpec, Row } from "../pipeline/definition.ts";

/**
 * What the parse/filter function writes to the repartition topic for each valid event, keyed by
 * its group key: the event time, the columns the aggregations read, and the event's source
 * coordinates — the dedupe key that makes window state exactly-once.
 */
export interface RepartitionedEvent {
  readonly groupKey: string;
  /** Epoch ms. */
  readonly eventTimeMs: number;
  /** Aggregation inputs only, like the columns Spark's shuffle carries. */
  readonly row: Row;
  /** `<topic>/<partition>` of the source record. */
  readonly source: string;
  readonly sourceOffset: number;
}

/** The columns a pipeline's repartition records carry: what its aggregations read, in order. */
export function carriedColumns(aggregations: readonly AggregationSpec[]): string[] {
  return [...new Set(aggregations.flatMap((a) => (a.column === undefined ? [] : [a.column])))];
}

/**
 * Encodes an event for the repartition topic as a flat JSON array,
 * `[group key, event time ms, source, source offset, ...carried column values]`: positional, so
 * no field names travel, and V8 writes an array of scalars markedly faster than nested objects
 * (the parse/filter hot path writes one per valid event).
 *
 * A carried double that JSON has no number for (NaN, ±Infinity, and −0, which JSON writes as 0)
 * travels as `{"double":"NaN"}`, `{"double":"Infinity"}`, `{"double":"-Infinity"}` or
 * `{"double":"-0.0"}`: a column value is otherwise never an object, so the form is unambiguous
 * even in a string column. Records written before this form (such values as `null`, −0 as `0`)
 * still decode, to what they carry.
 */
export function encodeRepartitioned(event: RepartitionedEvent, columns: readonly string[]): string {
  const wire: unknown[] = [event.groupKey, event.eventTimeMs, event.source, event.sourceOffset];
  for (const column of columns) {
    const value = event.row[column] ?? null;
    wire.push(
      typeof value === "number" && !isJsonNumber(value) ? { double: javaText(value) } : value,
    );
  }
  return JSON.stringify(wire);
}

/** Decodes a one-event repartition record; throws on anything our parse function did not write. */
export function decodeRepartitioned(
  value: Buffer | null,
  columns: readonly string[],
): RepartitionedEvent {
  return eventOf(JSON.parse(value?.toString("utf8") ?? "null"), columns);
}

/** An event from its wire array; throws on anything our parse function did not write. */
function eventOf(wire: unknown, columns: readonly string[]): RepartitionedEvent {
  if (
    !Array.isArray(wire) ||
    wire.length !== 4 + columns.length ||
    typeof wire[0] !== "string" ||
    typeof wire[1] !== "number" ||
    typeof wire[2] !== "string" ||
    typeof wire[3] !== "number"
  ) {
    throw new Error("not a sparkless repartition record");
  }
  const row: Row = {};
  for (let i = 0; i < columns.length; i++) {
    const carried = wire[4 + i] as Row[string] | { double?: unknown };
    row[columns[i] as string] =
      typeof carried === "object" && carried !== null ? nonJsonDouble(carried) : carried;
  }
  return { groupKey: wire[0], eventTimeMs: wire[1], row, source: wire[2], sourceOffset: wire[3] };
}

/**
 * The most characters of encoded events one repartition record packs: at most 192 KiB of UTF-8,
 * far under Kafka's 1 MB default record limit, and enough that the per-record costs (Kafka's
 * record framing, the event-source mapping's base64 and JSON per record, one JSON.parse) are
 * spread over hundreds of events.
 */
export const MAX_PACKED_CHARS = 64 * 1024;

/**
 * A repartition record packing several events of one parse batch bound for the same partition:
 * the JSON array of their encodings, `[[event], [event], ...]`, in the order parsed — as Spark's
 * shuffle writes blocks, not rows. Each event keeps its own source and offset, so exactly-once
 * (which dedupes by them) is the same as with one event per record.
 */
export function packRepartitioned(encodedEvents: readonly string[]): string {
  return `[${encodedEvents.join(",")}]`;
}

/** Doubles `JSON.stringify` keeps: finite, and not −0. */
function isJsonNumber(value: number): boolean {
  return Number.isFinite(value) && !Object.is(value, -0);
}

function javaText(value: number): string {
  if (Object.is(value, -0)) return "-0.0";
  return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}

const NON_JSON_DOUBLES: ReadonlyMap<unknown, number> = new Map([
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", Number.NEGATIVE_INFINITY],
  ["-0.0", -0],
]);

function nonJsonDouble(carried: { double?: unknown }): number {
  const value = NON_JSON_DOUBLES.get(carried.double);
  if (value === undefined) throw new Error("not a sparkless repartition record");
  return value;
}

/**
 * A progress marker: what the parse step sends to *every* repartition partition after a batch, one
 * per source partition in it, so each window partition knows every source's progress even when
 * none of that batch's keys landed there (issue 14: the watermark is the minimum over sources).
 * Produced after the batch's events, so a partition that reads a marker has read every event of
 * that source it precedes.
 */
export interface ProgressMarker {
  /** `<topic>/<partition>` of the source. */
  readonly source: string;
  /** The highest event time of the source's valid events in that batch. */
  readonly maxEventTimeMs: number;
  /** The last source offset of the batch. */
  readonly sourceOffset: number;
  /** The batch was full: the source has more records waiting, so it is not idle. */
  readonly behind: boolean;
}

/**
 * Encodes a progress marker as `[null, max event time ms, source, last offset, behind 0|1]`: the
 * leading null (an event's group key is always a string) tells it apart in one comparison.
 */
export function encodeProgressMarker(marker: ProgressMarker): string {
  return JSON.stringify([
    null,
    marker.maxEventTimeMs,
    marker.source,
    marker.sourceOffset,
    marker.behind ? 1 : 0,
  ]);
}

/** A repartition record: events (one, or a pack of them), or a source's progress marker. */
export type RepartitionRecord =
  | { readonly kind: "events"; readonly events: RepartitionedEvent[] }
  | ({ readonly kind: "progress" } & ProgressMarker);

/**
 * Decodes a pack of events, a one-event record (as written before packing), or a progress
 * marker; throws on anything our parse function did not write.
 */
export function decodeRepartitionRecord(
  value: Buffer | null,
  columns: readonly string[],
): RepartitionRecord {
  const text = value?.toString("utf8") ?? "null";
  if (text.startsWith("[null,")) {
    const wire = JSON.parse(text) as unknown;
    if (
      Array.isArray(wire) &&
      wire.length === 5 &&
      typeof wire[1] === "number" &&
      typeof wire[2] === "string" &&
      typeof wire[3] === "number" &&
      (wire[4] === 0 || wire[4] === 1)
    ) {
      return {
        kind: "progress",
        maxEventTimeMs: wire[1],
        source: wire[2],
        sourceOffset: wire[3],
        behind: wire[4] === 1,
      };
    }
    throw new Error("not a sparkless repartition record");
  }
  const wire = JSON.parse(text) as unknown;
  if (text.startsWith("[[") && Array.isArray(wire) && wire.length > 0)
    return { kind: "events", events: wire.map((w) => eventOf(w, columns)) };
  return { kind: "events", events: [eventOf(wire, columns)] };
}
