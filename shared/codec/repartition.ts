import type { Row } from "../pipeline/definition.ts";

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

interface Wire {
  k: string;
  t: number;
  r: Row;
  s: string;
  o: number;
}

/** Encodes an event for the repartition topic (compact JSON; versioned by its fields). */
export function encodeRepartitioned(event: RepartitionedEvent): string {
  const wire: Wire = {
    k: event.groupKey,
    t: event.eventTimeMs,
    r: event.row,
    s: event.source,
    o: event.sourceOffset,
  };
  return JSON.stringify(wire);
}

/** Decodes a repartition record; throws on anything our parse function did not write. */
export function decodeRepartitioned(value: Buffer | null): RepartitionedEvent {
  const wire = JSON.parse(value?.toString("utf8") ?? "null") as Partial<Wire> | null;
  if (
    !wire ||
    typeof wire.k !== "string" ||
    typeof wire.t !== "number" ||
    typeof wire.s !== "string" ||
    typeof wire.o !== "number" ||
    typeof wire.r !== "object"
  ) {
    throw new Error("not a sparkless repartition record");
  }
  return {
    groupKey: wire.k,
    eventTimeMs: wire.t,
    row: wire.r ?? {},
    source: wire.s,
    sourceOffset: wire.o,
  };
}
