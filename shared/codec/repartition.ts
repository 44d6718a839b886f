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
 */
export function encodeRepartitioned(event: RepartitionedEvent, columns: readonly string[]): string {
  const wire: unknown[] = [event.groupKey, event.eventTimeMs, event.source, event.sourceOffset];
  for (const column of columns) wire.push(event.row[column] ?? null);
  return JSON.stringify(wire);
}

/** Decodes a repartition record; throws on anything our parse function did not write. */
export function decodeRepartitioned(
  value: Buffer | null,
  columns: readonly string[],
): RepartitionedEvent {
  const wire = JSON.parse(value?.toString("utf8") ?? "null") as unknown;
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
  for (let i = 0; i < columns.length; i++) row[columns[i] as string] = wire[4 + i] as Row[string];
  return { groupKey: wire[0], eventTimeMs: wire[1], row, source: wire[2], sourceOffset: wire[3] };
}
