import type { Message } from "kafkajs";
import { type Coercion, compileRecordParser } from "../codec/parse-record.ts";
import {
  encodeProgressMarker,
  encodeRepartitioned,
  MAX_PACKED_CHARS,
  packRepartitioned,
} from "../codec/repartition.ts";
import { partitionOfKey } from "../kafka/partition-of.ts";
import type { KafkaRecord } from "../msk/event.ts";
import type { RecordMeta, Row } from "../pipeline/definition.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import { HEADERS } from "./headers.ts";

/**
 * The longest group key accepted. It is stored in a window's state item (at most 400 KB) and
 * carried on every message about it, so a key that is really a document is rejected instead.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
 */
export const MAX_GROUP_KEY_BYTES = 1024;

/** What happened to a batch's records: `in = valid + filtered + invalid`. */
export interface ParseFilterCounts {
  in: number;
  valid: number;
  filtered: number;
  invalid: number;
  /**
   * Fields Spark's `from_json` set to null, by `<field> (<token> for <type>)`, e.g.
   * `amount (string for double)`; absent when none. Kept rows and dead letters both count.
   */
  coerced?: Record<string, number>;
  /** Dead letters by kind of reason (`malformed JSON`, `event time null`, …); absent when none. */
  deadLetters?: Record<string, number>;
}

/** The messages a parse/filter batch produces, by destination. */
export interface ParseFilterOutput {
  readonly repartition: Message[];
  readonly deadLetter: Message[];
  readonly counts: ParseFilterCounts;
}

/** Options of the parse/filter step that are not part of the pipeline. */
export interface ParseFilterOptions {
  /** The clock for timestamps written as a time alone (Spark dates them today). */
  readonly nowMs?: () => number;
}

/**
 * Builds the parse/filter step of a pipeline: raw source records → valid events, packed by the
 * repartition partition of their group key, for the repartition topic, and rejected records
 * (original bytes, reason, source coordinates) for the dead-letter topic. Pure: the caller
 * produces the messages.
 *
 * Parsing is Spark's `from_json` (PERMISSIVE): a field that does not fit its type is null and the
 * row is kept (counted in `coerced`). Beyond Spark, nothing vanishes silently: a record Spark
 * turns into an all-null row, or whose group key or event time is null (Spark drops it from
 * every window without a trace), goes to the dead-letter topic with the reason; and with the
 * pipeline's `strict` option, so does any record with a coerced field. Records the user's filter
 * removes are `filtered`.
 */
export function parseFilterStep(
  pipeline: Pipeline,
  options: ParseFilterOptions = {},
): (records: readonly KafkaRecord[]) => ParseFilterOutput {
  const parse = compileRecordParser(pipeline.fields, options);
  // Only what the aggregations read travels on, like the columns Spark's shuffle carries.
  const { filter, transform, groupKey, eventTime, carriedColumns: carried, strict } = pipeline;
  const required = pipeline.fields.filter((f) => !f.nullable).map((f) => f.name);
  // Group keys' repartition partitions, kept across batches (keys recur; murmur2 per event would
  // cost a third of a small batch's time), forgotten past MAX_CACHED_KEYS to bound memory.
  const partitionOf = new Map<string, number>();

  return (records) => {
    const repartition: Message[] = [];
    const deadLetter: Message[] = [];
    const counts: ParseFilterCounts = { in: records.length, valid: 0, filtered: 0, invalid: 0 };
    // Records come partition by partition: each run of them shares its source name.
    let source = "";
    let sourceOf: KafkaRecord | undefined;
    const progress = new Map<string, { maxEventTimeMs: number; sourceOffset: number }>();
    const packer = new Packer(pipeline.partitions, partitionOf);
    const reject = (record: KafkaRecord, kind: string, reason: string) => {
      counts.invalid++;
      counts.deadLetters ??= {};
      bump(counts.deadLetters, kind);
      deadLetter.push(deadLetterMessage(record, reason));
    };

    for (const record of records) {
      const parsed = parse(record.value);
      if (!parsed.ok) {
        reject(record, reasonKind(parsed.reason), parsed.reason);
        continue;
      }
      const { coerced } = parsed;
      let coercedKey: Coercion | undefined;
      for (const c of coerced) {
        counts.coerced ??= {};
        bump(counts.coerced, `${c.field} (${c.reason})`);
        if (c.field === groupKey || c.field === eventTime) coercedKey ??= c;
      }
      if (coercedKey) {
        const which = coercedKey.field === eventTime ? "event time" : "group key";
        reject(
          record,
          `${which} coerced to null`,
          `${which} '${coercedKey.field}' coerced to null (${coercedKey.reason}): Spark would drop the row from every window`,
        );
        continue;
      }
      if (strict && coerced.length > 0) {
        reject(
          record,
          "strict: coerced to null",
          `strict: ${coerced.map((c) => `field '${c.field}' coerced to null (${c.reason})`).join(", ")}`,
        );
        continue;
      }
      let row: Row = parsed.row;
      const missing = required.find((name) => row[name] === null);
      if (missing !== undefined) {
        reject(
          record,
          "required field null",
          `field '${missing}': required (not nullable) but missing or null`,
        );
        continue;
      }
      const meta: RecordMeta = record;
      try {
        if (filter && !filter(row, meta)) {
          counts.filtered++;
          continue;
        }
        if (transform) row = transform(row, meta);
      } catch (error) {
        reject(
          record,
          "filter/transform threw",
          `${filter && !transform ? "filter" : "filter/transform"} threw: ${(error as Error).message}`,
        );
        continue;
      }
      const key = row[groupKey];
      const eventTimeMs = row[eventTime];
      if (eventTimeMs === null || eventTimeMs === undefined) {
        reject(
          record,
          "event time null",
          `event time '${eventTime}' is missing or null: Spark would drop the row from every window`,
        );
        continue;
      }
      if (
        typeof eventTimeMs !== "number" ||
        eventTimeMs < YEAR_1_MS ||
        eventTimeMs >= YEAR_10000_MS
      ) {
        reject(
          record,
          "event time out of range",
          `event time '${eventTime}' is outside years 1 to 9999`,
        );
        continue;
      }
      if (key === null || key === undefined) {
        reject(record, "group key null", `group key '${groupKey}' is null`);
        continue;
      }
      const groupKeyText = String(key);
      if (Buffer.byteLength(groupKeyText) > MAX_GROUP_KEY_BYTES) {
        reject(
          record,
          "group key too long",
          `group key '${groupKey}' is longer than ${MAX_GROUP_KEY_BYTES} bytes`,
        );
        continue;
      }
      if (record.topic !== sourceOf?.topic || record.partition !== sourceOf.partition) {
        sourceOf = record;
        source = `${record.topic}/${record.partition}`;
      }
      counts.valid++;
      packer.add(
        groupKeyText,
        encodeRepartitioned(
          {
            groupKey: groupKeyText,
            eventTimeMs,
            row, // only the carried columns are written
            source,
            sourceOffset: record.offset,
          },
          carried,
        ),
        record.timestampMs,
      );
      if (pipeline.watermarkFrom === "sources") noteProgress(progress, source, eventTimeMs, record);
    }
    repartition.push(...packer.messages());
    // Issue 14: after its events, every repartition partition hears each source's progress.
    for (const [from, p] of progress) {
      const value = encodeProgressMarker({
        source: from,
        ...p,
        behind: records.length >= pipeline.batchSize,
      });
      for (let partition = 0; partition < pipeline.partitions; partition++)
        repartition.push({ key: null, value, partition });
    }
    return { repartition, deadLetter, counts };
  };
}

/**
 * Gathers a batch's valid events into repartition records: per partition (the one Kafka's
 * partitioner gives the group key), in order, packs of at most MAX_PACKED_CHARS. A pack's
 * timestamp is its newest event's source timestamp, so a partition's newest record time — how far
 * behind the window function is — stays what it was with one record per event.
 */
class Packer {
  private readonly open = new Map<number, { events: string[]; chars: number; newestMs: number }>();
  private readonly done: Message[] = [];

  constructor(
    private readonly partitions: number,
    private readonly partitionOf: Map<string, number>,
  ) {}

  add(groupKey: string, encodedEvent: string, timestampMs: number): void {
    let partition = this.partitionOf.get(groupKey);
    if (partition === undefined) {
      partition = partitionOfKey(groupKey, this.partitions);
      if (this.partitionOf.size >= MAX_CACHED_KEYS) this.partitionOf.clear();
      this.partitionOf.set(groupKey, partition);
    }
    const pack = this.open.get(partition);
    if (pack && pack.chars + encodedEvent.length + 1 <= MAX_PACKED_CHARS) {
      pack.events.push(encodedEvent);
      pack.chars += encodedEvent.length + 1;
      pack.newestMs = Math.max(pack.newestMs, timestampMs);
      return;
    }
    if (pack) this.close(partition, pack);
    this.open.set(partition, {
      events: [encodedEvent],
      chars: encodedEvent.length + 2,
      newestMs: timestampMs,
    });
  }

  /** Every pack, each partition's in the order of its events. */
  messages(): Message[] {
    for (const [partition, pack] of this.open) this.close(partition, pack);
    this.open.clear();
    return this.done;
  }

  private close(partition: number, pack: { events: string[]; newestMs: number }): void {
    this.done.push({
      key: null,
      partition,
      value: packRepartitioned(pack.events),
      timestamp: String(pack.newestMs),
    });
  }
}

/** At most 1 KB a key: the cache of partitions stays under about 100 MB even for long keys. */
const MAX_CACHED_KEYS = 100_000;

// Spark's timestamps reach far beyond what a window (and a JavaScript Date) can hold; an event
// time outside years 1-9999 is a producer's mistake that would drag the watermark with it.
const YEAR_1_MS = -62_135_596_800_000;
const YEAR_10000_MS = 253_402_300_800_000;

function noteProgress(
  progress: Map<string, { maxEventTimeMs: number; sourceOffset: number }>,
  source: string,
  eventTimeMs: number,
  record: KafkaRecord,
): void {
  const p = progress.get(source);
  if (!p) progress.set(source, { maxEventTimeMs: eventTimeMs, sourceOffset: record.offset });
  else {
    p.maxEventTimeMs = Math.max(p.maxEventTimeMs, eventTimeMs);
    p.sourceOffset = record.offset;
  }
}

function bump(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

/** The kind of a parser's reason, for counting dead letters: its text before the first colon. */
function reasonKind(reason: string): string {
  const colon = reason.indexOf(":");
  return (colon === -1 ? reason : reason.slice(0, colon)).replace(/ \(.*$/, "");
}

/** The dead-letter copy of a record: its own key, value and headers, plus why and where from. */
export function deadLetterMessage(record: KafkaRecord, reason: string): Message {
  const headers: Record<string, Buffer | string | Array<Buffer | string>> = {};
  for (const [name, value] of record.headers) {
    const existing = headers[name];
    headers[name] =
      existing === undefined
        ? value
        : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  Object.assign(headers, {
    [HEADERS.error]: reason,
    [HEADERS.sourceTopic]: record.topic,
    [HEADERS.sourcePartition]: String(record.partition),
    [HEADERS.sourceOffset]: String(record.offset),
    [HEADERS.sourceTimestamp]: String(record.timestampMs),
  });
  return { key: record.key, value: record.value, headers, timestamp: String(record.timestampMs) };
}
