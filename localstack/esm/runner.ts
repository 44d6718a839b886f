import { setTimeout as sleep } from "node:timers/promises";
import { type Admin, type Consumer, Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { type KafkaConnection, toKafkaJsConfig } from "../../shared/kafka/connection.ts";
import { encodeMskRecord, type MskEvent, type MskEventRecord } from "../../shared/msk/event.ts";
import { compileFilterCriteria } from "./filter-criteria.ts";
import {
  checkMappingConfig,
  emptyPartitionStats,
  type MappingConfig,
  type PartitionStats,
  type PayloadStats,
  retryBackoffMs,
  retryLimit,
} from "./mapping.ts";
import type { StageProfile } from "./stage-profile.ts";

/** "The payload size reaches 6 MB. You cannot modify this limit." (batching behavior, below) */
const PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;
/** How long a fetch waits on the broker when nothing is there (the gathering is done here). */
const FETCH_WAIT_MS = 100;
/** kafkajs marks a record batch written with `message.timestamp.type=LogAppendTime` so. */
const LOG_APPEND_TIME = 1;

/** A fetched record waiting for a payload. */
interface Waiting {
  readonly message: KafkaMessage;
  /** Matched the filter criteria (or there are none): goes to the function. */
  readonly keep: boolean;
  readonly bytes: number;
}

/** A partition's records between fetch and commit: at most one of its batches is in flight. */
interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  waiting: Waiting[];
  inFlight: boolean;
  /** The partition's commits, chained so that they reach the broker in order. */
  committing: Promise<void>;
  /** Fetching is paused while `batchSize` records wait (kafkajs fetches on otherwise). */
  resume: (() => void) | undefined;
}

/** One partition's records in a payload (grown while the payload is being gathered). */
interface Contribution {
  readonly queue: PartitionQueue;
  readonly records: KafkaMessage[];
  filtered: number;
  lastOffset: string;
  /** The group generation the records were fetched in: a commit from an older one is void. */
  readonly generation: number;
}

/** A payload being gathered: its batching window runs from its first record. */
interface Gathering {
  readonly contributions: Map<PartitionQueue, Contribution>;
  records: number;
  bytes: number;
  full: boolean;
  timer: NodeJS.Timeout | undefined;
  /** When its first record was gathered (profiling only). */
  readonly sinceMs: number;
}

/**
 * Runs one event-source mapping locally as Lambda's Kafka mapping behaves, point by point (each a
 * test in test/integration/esm/runner.test.ts):
 * - records of several partitions gathered into one payload, up to `batchSize` records or 6 MB,
 *   invoked when full or when the batching window (from the first record) ran out;
 * - each partition read in order, with at most one of its batches in flight;
 * - a partition's offset committed only after the invocation holding its records succeeded;
 * - a failing payload retried whole, with a growing backoff, until it succeeds — or, with a
 *   retry cap (AWS sets 10 when an on-failure destination is configured), handed to the
 *   destination and committed past;
 * - `timestampType` LOG_APPEND_TIME for topics with `message.timestamp.type=LogAppendTime`.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk-process.html
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
 * No pipeline logic lives here: it calls the real handlers.
 */
export class EventSourceMappingRunner {
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  private stopping = false;
  private readonly abort = new AbortController();
  private generation = 0;
  private readonly queues = new Map<string, PartitionQueue>();
  private gathering: Gathering | undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly stats = new Map<string, PartitionStats>();
  private readonly payloadStats: PayloadStats = { payloads: 0, mixedPayloads: 0, maxRecords: 0 };
  private readonly keep: ((message: KafkaMessage) => boolean) | undefined;
  private readonly batchSize: number;
  private readonly batchingWindowMs: number;
  /** Invocations running now, and since when none has (the profile's idle time). */
  private invoking = 0;
  private idleSinceMs = performance.now();

  constructor(
    private readonly connection: KafkaConnection,
    readonly config: MappingConfig,
    /** The bench's per-stage profile; absent otherwise (then nothing is timed). */
    private readonly profile?: StageProfile,
  ) {
    checkMappingConfig(config);
    this.kafka = new Kafka(
      toKafkaJsConfig(connection, `esm-${config.name}`, { logLevel: logLevel.ERROR }),
    );
    this.batchSize = config.batchSize ?? 100;
    this.batchingWindowMs = config.maximumBatchingWindowMs ?? 500;
    if (config.filterCriteria) {
      const matches = compileFilterCriteria(config.filterCriteria);
      this.keep = (m) => matches({ value: m.value?.toString("utf8") ?? null });
    }
  }

  async start(): Promise<void> {
    const { config } = this;
    const consumer = this.kafka.consumer({
      groupId: config.consumerGroupId,
      maxWaitTimeInMs: FETCH_WAIT_MS,
      minBytes: 1,
      allowAutoTopicCreation: false,
      ...(config.sessionTimeoutMs ? { sessionTimeout: config.sessionTimeoutMs } : {}),
    });
    this.consumer = consumer;
    // A (re)join resets kafkajs's fetch positions to the committed offsets: what was fetched and
    // not yet in a payload is dropped (it is fetched again); payloads in flight finish, and keep
    // their partitions from a second batch in flight until they do.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.flush();
      this.generation++;
      for (const queue of this.queues.values()) {
        queue.waiting = [];
        queue.resume?.();
        queue.resume = undefined;
      }
    });
    await this.applyStartingPosition();
    await consumer.connect();
    await consumer.subscribe({
      topics: [...config.topics],
      fromBeginning: config.startingPosition === "TRIM_HORIZON",
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Hands the records over and returns: kafkajs then fetches on for every partition, so one
      // partition's slow or failing batch does not hold the others back.
      eachBatch: async ({ batch, resolveOffset, pause }) => {
        const last = batch.messages[batch.messages.length - 1];
        if (this.stopping || !last) return;
        const queue = this.queue(batch.topic, batch.partition);
        for (const message of batch.messages) {
          queue.waiting.push({
            message,
            keep: this.keep?.(message) ?? true,
            bytes: recordBytes(message),
          });
        }
        // The next fetch starts after these; the commit still waits for their invocation.
        resolveOffset(last.offset);
        if (queue.waiting.length >= this.batchSize && !queue.resume) queue.resume = pause();
        this.gather();
      },
    });
  }

  /**
   * Adds waiting records to the payload being gathered: of partitions with no batch in flight, or
   * whose batch is this payload (records arriving in the window join it, as on AWS).
   */
  private gather(): void {
    if (this.stopping) return;
    for (const queue of this.queues.values()) {
      if (queue.waiting.length === 0) continue;
      this.gathering ??= {
        contributions: new Map(),
        records: 0,
        bytes: 0,
        full: false,
        timer: undefined,
        sinceMs: performance.now(),
      };
      const gathering = this.gathering;
      const own = gathering.contributions.get(queue);
      if (queue.inFlight && !own) continue;
      const taken: Waiting[] = [];
      let kept = 0;
      let bytes = 0;
      for (const next of queue.waiting) {
        if (next.keep) {
          const records = gathering.records + kept;
          const overSize = gathering.bytes + bytes + next.bytes > PAYLOAD_LIMIT_BYTES;
          if (records >= this.batchSize || (overSize && records > 0)) {
            gathering.full = true;
            break;
          }
          kept++;
          bytes += next.bytes;
        }
        taken.push(next);
      }
      if (taken.length === 0) {
        if (gathering.full) this.flush(); // the next record does not fit: this payload is done
        continue;
      }
      queue.waiting = queue.waiting.slice(taken.length);
      const lastOffset = (taken[taken.length - 1] as Waiting).message.offset;
      const records = taken.filter((w) => w.keep).map((w) => w.message);
      const filtered = taken.length - kept;
      if (own) {
        own.records.push(...records);
        own.filtered += filtered;
        own.lastOffset = lastOffset;
      } else {
        queue.inFlight = true;
        const contribution = { queue, records, filtered, lastOffset, generation: this.generation };
        if (kept === 0) {
          // Every record filtered out: committed without an invocation.
          this.track(this.complete([contribution], true));
          continue;
        }
        gathering.contributions.set(queue, contribution);
      }
      gathering.records += kept;
      gathering.bytes += bytes;
      if (gathering.records >= this.batchSize) gathering.full = true;
      if (gathering.full) this.flush();
    }
    const pending = this.gathering;
    if (pending && pending.records > 0 && !pending.timer) {
      pending.timer = setTimeout(() => this.flush(), this.batchingWindowMs);
    }
  }

  /** Invokes the payload gathered so far. */
  private flush(): void {
    const gathering = this.gathering;
    this.gathering = undefined;
    if (!gathering || gathering.contributions.size === 0) return;
    clearTimeout(gathering.timer);
    this.profile?.add(`${this.config.name}.gathering`, performance.now() - gathering.sinceMs);
    this.track(this.deliver([...gathering.contributions.values()]));
  }

  private track(work: Promise<void>): void {
    this.running.add(work);
    work.finally(() => this.running.delete(work));
  }

  /** Invokes the handler with the payload until it succeeds, or its retries ran out. */
  private async deliver(contributions: readonly Contribution[]): Promise<void> {
    const { config, profile } = this;
    const encodeStartMs = performance.now();
    const event = this.event(contributions);
    const statsOf = contributions.map((c) => this.partitionStats(c.queue.topic, c.queue.partition));
    const records = contributions.reduce((n, c) => n + c.records.length, 0);
    this.payloadStats.payloads++;
    if (contributions.length > 1) this.payloadStats.mixedPayloads++;
    this.payloadStats.maxRecords = Math.max(this.payloadStats.maxRecords, records);
    if (profile) {
      profile.add(`${config.name}.encode`, performance.now() - encodeStartMs);
      profile.count(`${config.name}.payloads`);
      profile.count(`${config.name}.records`, records);
      profile.count(`${config.name}.partitionsInPayloads`, contributions.length);
      if (this.invoking === 0)
        profile.add(`${config.name}.idle`, performance.now() - this.idleSinceMs);
    }
    this.invoking++;
    for (const [i, stats] of statsOf.entries()) {
      const contribution = contributions[i] as Contribution;
      stats.recordsIn += contribution.records.length;
      stats.filteredOut += contribution.filtered;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    }
    const limit = retryLimit(config);
    let delivered = false;
    let attempt = 1;
    for (; ; attempt++) {
      for (const stats of statsOf) stats.invocations++;
      try {
        if (profile)
          await profile.within(config.name, () =>
            profile.time("invoke", () => config.handler(event)),
          );
        else await config.handler(event);
        delivered = true;
        break;
      } catch (error) {
        for (const stats of statsOf) stats.errors++;
        if (attempt > limit && (await this.handOver(contributions, attempt, error))) {
          for (const stats of statsOf) stats.failedBatches++;
          delivered = true; // skipped past, as Lambda does once the destination has the record
          break;
        }
        for (const stats of statsOf) stats.retries++;
      }
      if (this.stopping) break;
      try {
        await sleep(retryBackoffMs(attempt, config), undefined, { signal: this.abort.signal });
      } catch {
        break; // stopped while waiting: the payload stays uncommitted
      }
    }
    for (const stats of statsOf) {
      stats.inFlight--;
      stats.maxAttempts = Math.max(stats.maxAttempts, attempt);
    }
    await this.complete(contributions, delivered);
    if (--this.invoking === 0) this.idleSinceMs = performance.now();
  }

  /** Sends the on-failure records; false (the payload is retried) if that failed. */
  private async handOver(
    contributions: readonly Contribution[],
    attempts: number,
    error: unknown,
  ): Promise<boolean> {
    try {
      for (const c of contributions) {
        await this.config.onFailure?.({
          mapping: this.config.name,
          topic: c.queue.topic,
          partition: c.queue.partition,
          firstOffset: Number(c.records[0]?.offset),
          lastOffset: Number(c.records[c.records.length - 1]?.offset),
          batchSize: c.records.length,
          attempts,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
      }
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Commits what was delivered and frees its partitions for their next batch. The commit runs
   * behind that next batch, chained per partition so offsets reach the broker in order: a round
   * trip to the group coordinator (tens of ms, queued behind fetches on the same connection)
   * need not hold the partition. A crash before it lands redelivers the batch, as any crash
   * between an invocation and its commit does.
   */
  private async complete(contributions: readonly Contribution[], delivered: boolean) {
    for (const c of contributions) {
      const { queue } = c;
      if (delivered) {
        queue.committing = queue.committing.then(() => this.commit(c));
        this.track(queue.committing);
      }
      queue.inFlight = false;
      if (queue.resume && queue.waiting.length < this.batchSize) {
        queue.resume();
        queue.resume = undefined;
      }
    }
    this.gather();
  }

  /** Commits past `c`, retrying while the broker is unreachable, unless the group moved on. */
  private async commit(c: Contribution): Promise<void> {
    const { topic, partition } = c.queue;
    const offset = String(Number(c.lastOffset) + 1);
    const startMs = performance.now();
    try {
      await this.commitUntilDone(c, topic, partition, offset);
    } finally {
      this.profile?.add(`${this.config.name}.commit`, performance.now() - startMs);
    }
  }

  private async commitUntilDone(c: Contribution, topic: string, partition: number, offset: string) {
    for (let retry = 1; c.generation === this.generation; retry++) {
      try {
        await this.consumer?.commitOffsets([{ topic, partition, offset }]);
        this.partitionStats(topic, partition).committedOffset = Number(offset);
        return;
      } catch {
        if (this.stopping) return;
        await sleep(retryBackoffMs(retry, this.config));
      }
    }
  }

  /** The event Lambda would send for these records: grouped by `<topic>-<partition>`. */
  private event(contributions: readonly Contribution[]): MskEvent {
    const records: Record<string, MskEventRecord[]> = {};
    for (const { queue, records: messages } of contributions) {
      const { topic, partition } = queue;
      records[`${topic}-${partition}`] = messages.map((m) =>
        encodeMskRecord({
          topic,
          partition,
          offset: m.offset,
          timestamp: m.timestamp,
          logAppendTime: isLogAppendTime(m),
          key: m.key,
          value: m.value,
          headers: m.headers ?? {},
        }),
      );
    }
    return {
      eventSource: this.config.eventSource ?? "SelfManagedKafka",
      ...(this.config.eventSourceArn ? { eventSourceArn: this.config.eventSourceArn } : {}),
      bootstrapServers: this.connection.brokers.join(","),
      records,
    };
  }

  /** AT_TIMESTAMP: a group with no committed offsets starts at the first offset at or after it. */
  private async applyStartingPosition(): Promise<void> {
    const position = this.config.startingPosition;
    if (typeof position !== "object") return;
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const topic of this.config.topics) {
        const [committed] = await admin.fetchOffsets({
          groupId: this.config.consumerGroupId,
          topics: [topic],
        });
        if (committed?.partitions.some((p) => Number(p.offset) >= 0)) continue;
        const partitions = await admin.fetchTopicOffsetsByTimestamp(topic, position.timestampMs);
        await admin.setOffsets({ groupId: this.config.consumerGroupId, topic, partitions });
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** A snapshot of the counters, by `topic-partition`. */
  snapshot(): Record<string, PartitionStats> {
    return Object.fromEntries([...this.stats.entries()].map(([k, v]) => [k, { ...v }]));
  }

  /** Counters of the payloads invoked so far. */
  payloads(): PayloadStats {
    return { ...this.payloadStats };
  }

  private queue(topic: string, partition: number): PartitionQueue {
    const key = `${topic}-${partition}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = {
        topic,
        partition,
        waiting: [],
        inFlight: false,
        committing: Promise.resolve(),
        resume: undefined,
      };
      this.queues.set(key, queue);
    }
    return queue;
  }

  private partitionStats(topic: string, partition: number): PartitionStats {
    const key = `${topic}-${partition}`;
    let stats = this.stats.get(key);
    if (!stats) {
      stats = emptyPartitionStats();
      this.stats.set(key, stats);
    }
    return stats;
  }

  /**
   * Stops gathering and retrying: an invocation running now finishes (and is committed if it
   * succeeded); a payload waiting to be retried or gathered is left uncommitted. Then disconnects.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    clearTimeout(this.gathering?.timer);
    this.gathering = undefined;
    // Until none is left: an invocation finishing now chains its commit only then.
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    await this.consumer?.disconnect();
  }
}

/** The record's share of the event's JSON: base64 key and value, headers as byte arrays. */
function recordBytes(message: KafkaMessage): number {
  let headerBytes = 0;
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    headerBytes += name.length + 4 * String(value ?? "").length + 8;
  }
  const base64 = (b: Buffer | null) => Math.ceil((b?.length ?? 0) / 3) * 4;
  return base64(message.key) + base64(message.value) + headerBytes + 160;
}

function isLogAppendTime(message: KafkaMessage): boolean {
  const context = (message as { batchContext?: { timestampType?: number } }).batchContext;
  return context?.timestampType === LOG_APPEND_TIME;
}
