/**
 * The event Lambda's Kafka event-source mapping sends (MSK and self-managed Kafka), and its
 * decoding. Offsets and partitions are numbers here, strings at the kafkajs edge: converted once.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html#msk-sample-event
 */

/** One record as it appears in the event: key and value base64, header values as byte arrays. */
export interface MskEventRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly timestampType: "CREATE_TIME" | "LOG_APPEND_TIME";
  /** Base64; absent when the record has no key. */
  readonly key?: string;
  /** Base64; absent or null for a tombstone. */
  readonly value?: string | null;
  readonly headers: ReadonlyArray<Readonly<Record<string, readonly number[]>>>;
}

export interface MskEvent {
  readonly eventSource: "aws:kafka" | "SelfManagedKafka";
  /** The MSK cluster's ARN; absent for self-managed Kafka. */
  readonly eventSourceArn?: string;
  /** Comma-separated `host:port` list of the brokers the mapping reads from. */
  readonly bootstrapServers: string;
  /** Records grouped by `<topic>-<partition>`; one invocation may hold several partitions. */
  readonly records: Readonly<Record<string, readonly MskEventRecord[]>>;
}

/** A record decoded to bytes, with its source coordinates. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: ReadonlyArray<readonly [string, Buffer]>;
}

/** Decodes every record of the event, partition by partition, in offset order within each. */
export function decodeMskEvent(event: MskEvent): KafkaRecord[] {
  const decoded: KafkaRecord[] = [];
  for (const records of Object.values(event.records)) {
    for (const record of records) decoded.push(decodeMskRecord(record));
  }
  return decoded;
}

/** Decodes one event record: base64 key and value to bytes, header byte arrays to Buffers. */
export function decodeMskRecord(record: MskEventRecord): KafkaRecord {
  const headers: Array<readonly [string, Buffer]> = [];
  for (const header of record.headers) {
    for (const [name, bytes] of Object.entries(header)) headers.push([name, Buffer.from(bytes)]);
  }
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestampMs: record.timestamp,
    key: record.key === undefined || record.key === null ? null : Buffer.from(record.key, "base64"),
    value:
      record.value === undefined || record.value === null
        ? null
        : Buffer.from(record.value, "base64"),
    headers,
  };
}

/** What a consumer hands over to build an event record (kafkajs gives offsets as strings). */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string | number;
  readonly timestamp: string | number;
  readonly logAppendTime?: boolean;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<
    Record<string, Buffer | string | ReadonlyArray<Buffer | string> | undefined>
  >;
}

/** Builds the event record AWS would send for a consumed record (used by the local runner). */
export function encodeMskRecord(record: ConsumedRecord): MskEventRecord {
  const headers: Array<Record<string, number[]>> = [];
  for (const [name, raw] of Object.entries(record.headers ?? {})) {
    if (raw === undefined) continue;
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      headers.push({ [name]: [...Buffer.from(value as Buffer | string)] });
    }
  }
  return {
    topic: record.topic,
    partition: record.partition,
    offset: Number(record.offset),
    timestamp: Number(record.timestamp),
    timestampType: record.logAppendTime ? "LOG_APPEND_TIME" : "CREATE_TIME",
    ...(record.key === null ? {} : { key: record.key.toString("base64") }),
    value: record.value === null ? null : record.value.toString("base64"),
    headers,
  };
}
