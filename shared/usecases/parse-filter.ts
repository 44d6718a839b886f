import type { Message } from "kafkajs";
import { compileRecordParser } from "../codec/parse-record.ts";
import { encodeRepartitioned } from "../codec/repartition.ts";
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
}

/** The messages a parse/filter batch produces, by destination. */
export interface ParseFilterOutput {
  readonly repartition: Message[];
  readonly deadLetter: Message[];
  readonly counts: ParseFilterCounts;
}

/**
 * Builds the parse/filter step of a pipeline: raw source records → valid events keyed by group
 * key for the repartition topic, and rejected records (original bytes, reason, source coordinates)
 * for the dead-letter topic. Pure: the caller produces the messages. Nothing is dropped without
 * being counted: records the filter removes, or whose event time is null (Spark never puts those
 * in a window), are `filtered`.
 */
export function parseFilterStep(
  pipeline: Pipeline,
): (records: readonly KafkaRecord[]) => ParseFilterOutput {
  const parse = compileRecordParser(pipeline.fields);
  // Only what the aggregations read travels on, like the columns Spark's shuffle carries.
  const { filter, transform, groupKey, eventTime, carriedColumns: carried } = pipeline;

  return (records) => {
    const repartition: Message[] = [];
    const deadLetter: Message[] = [];
    const counts: ParseFilterCounts = { in: records.length, valid: 0, filtered: 0, invalid: 0 };
    // Records come partition by partition: each run of them shares its source name.
    let source = "";
    let sourceOf: KafkaRecord | undefined;
    const reject = (record: KafkaRecord, reason: string) => {
      counts.invalid++;
      deadLetter.push(deadLetterMessage(record, reason));
    };

    for (const record of records) {
      const parsed = parse(record.value);
      if (!parsed.ok) {
        reject(record, parsed.reason);
        continue;
      }
      let row: Row = parsed.row;
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
          `${filter && !transform ? "filter" : "filter/transform"} threw: ${(error as Error).message}`,
        );
        continue;
      }
      const key = row[groupKey];
      const eventTimeMs = row[eventTime];
      if (eventTimeMs === null || eventTimeMs === undefined) {
        counts.filtered++;
        continue;
      }
      if (key === null || key === undefined) {
        reject(record, `group key '${groupKey}' is null`);
        continue;
      }
      const groupKeyText = String(key);
      if (Buffer.byteLength(groupKeyText) > MAX_GROUP_KEY_BYTES) {
        reject(record, `group key '${groupKey}' is longer than ${MAX_GROUP_KEY_BYTES} bytes`);
        continue;
      }
      if (record.topic !== sourceOf?.topic || record.partition !== sourceOf.partition) {
        sourceOf = record;
        source = `${record.topic}/${record.partition}`;
      }
      counts.valid++;
      repartition.push({
        key: groupKeyText,
        value: encodeRepartitioned(
          {
            groupKey: groupKeyText,
            eventTimeMs: eventTimeMs as number,
            row, // only the carried columns are written
            source,
            sourceOffset: record.offset,
          },
          carried,
        ),
        timestamp: String(record.timestampMs),
      });
    }
    return { repartition, deadLetter, counts };
  };
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
