import type { Message, TopicMessages } from "kafkajs";
import { encodeProgressMarker, encodeRepartitioned } from "../../../shared/codec/repartition.ts";
import type { KafkaRecord } from "../../../shared/msk/event.ts";
import type { Row } from "../../../shared/pipeline/definition.ts";
import type { Pipeline } from "../../../shared/pipeline/pipeline.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";
import type { WindowStore } from "../../../shared/store/window-store.ts";
import { FLUSH_QUIET_MS, flushDueWindows } from "../../../shared/usecases/flush.ts";
import { HEADERS } from "../../../shared/usecases/headers.ts";
import { processWindowBatch, watermarkOf } from "../../../shared/usecases/window-batch.ts";
import {
  Crash,
  gatedStore,
  type Marker,
  type ModelEvent,
  type Random,
  random,
  Scheduler,
} from "./model-check-scheduler.ts";

// The random schedule both model checks (tumbling and session) run, and what the world saw of it:
// source events, the repartition queues with re-produced prefixes and progress markers, rounds of
// invocations and flushes crashed at every store call and produce, then a quiet flush. A test
// brings only its pipeline, its events' shape and its invariants. Every random draw keeps its
// order, so a seed replays the same schedule.

const MINUTE_MS = 60_000;
// Rounds before an actor stops being crashed, and before a schedule counts as stuck.
const CRASHING_ROUNDS = 25;
const MAX_ROUNDS = 60;

/** The schedule's shape of the pipeline: partitions, buckets and watermark policy. */
export interface PipelineShape {
  readonly partitions: number;
  readonly stateBuckets: number;
  readonly watermarkFrom: "sources" | "max";
}

/** What a model check puts into the shared schedule. */
export interface ScheduleSpec {
  /** The pipeline under test, in the schedule's shape. */
  readonly pipeline: (shape: PipelineShape) => Pipeline;
  /** The shard item limit of half the schedules: so small that most shards split. */
  readonly tinyItemLimit: number;
  /** The keys events are drawn from. */
  readonly keys: string;
  /** The chance an event lies back in time, and how far: `min + int(spread)` minutes. */
  readonly backChance: number;
  readonly backMinutes: { readonly min: number; readonly spread: number };
  /** The row an event carries; an amount of 4^index makes every sum say who was counted. */
  readonly row: (event: ModelEvent) => Row;
  /**
   * After the crashing rounds, a far event (index -1) from every source to every partition,
   * crash-free, so every window of the schedule is due before the quiet flush.
   */
  readonly farEvents: boolean;
}

export interface Produced {
  readonly step: number;
  readonly topic: string;
  readonly message: Message;
}

/** What a schedule did, and how the invariants read it. */
export class World {
  readonly produced: Produced[] = [];
  /** Shards closed (their `closeShard` took effect), at the scheduler step. */
  readonly closes: Array<{ step: number; partition: number; endMs: number }> = [];
  /** The watermark the invocation that produced a late record had read. */
  readonly lateReads = new Map<Message, number | undefined>();
  /** Partitions that had two invocations running at once in some round. */
  readonly concurrent = new Set<number>();
  splits = 0;

  constructor(
    readonly pipeline: Pipeline,
    readonly memory: MemoryWindowStore,
    readonly events: readonly ModelEvent[],
    readonly partitionOf: (key: string) => number,
  ) {}

  /**
   * The last value each output result went out with, which result counted each event (the
   * base-4 digits of its `column`: amounts 4^index), and the violations: a result produced with
   * two values, an event counted twice in one result or across results.
   */
  countedResults(column: string): {
    results: Map<string, string>;
    countedIn: Map<number, string>;
    violations: string[];
  } {
    const results = new Map<string, string>();
    const violations: string[] = [];
    for (const { topic, message } of this.produced) {
      if (topic !== this.pipeline.topics.output) continue;
      const id = String(message.headers?.[HEADERS.resultId]);
      const before = results.get(id);
      if (before !== undefined && before !== String(message.value))
        violations.push(`result ${id} produced as ${before} and ${String(message.value)}`);
      results.set(id, String(message.value));
    }
    const countedIn = new Map<number, string>();
    for (const [id, value] of results) {
      let total = JSON.parse(value)[column] as number;
      for (let digit = 0; total > 0; digit++) {
        const d = total % 4;
        total = (total - d) / 4;
        if (d > 1) violations.push(`result ${id} counts event ${digit} ${d} times`);
        if (d === 1 && countedIn.has(digit))
          violations.push(`event ${digit} counted in ${countedIn.get(digit)} and ${id}`);
        if (d === 1) countedIn.set(digit, id);
      }
    }
    return { results, countedIn, violations };
  }

  /** Looks up an event's late record: the step it went out at and the watermark behind it. */
  lateRecords(): (
    event: ModelEvent,
  ) => { step: number; watermarkMs: number | undefined } | undefined {
    const byEvent = new Map<string, { step: number; watermarkMs: number | undefined }>();
    for (const { step, topic, message } of this.produced) {
      if (topic !== this.pipeline.topics.late) continue;
      const h = message.headers ?? {};
      byEvent.set(
        `${h[HEADERS.sourceTopic]}/${h[HEADERS.sourcePartition]}#${h[HEADERS.sourceOffset]}`,
        { step, watermarkMs: this.lateReads.get(message) },
      );
    }
    return (event) => byEvent.get(`${event.source}#${event.sourceOffset}`);
  }

  /** Whether the event's shard ending at `endMs` was closed at or before `step`. */
  closedBy(event: ModelEvent, endMs: number, step: number): boolean {
    const partition = this.partitionOf(event.key);
    return this.closes.some(
      (c) => c.partition === partition && c.endMs === endMs && c.step <= step,
    );
  }
}

/** A schedule's world, and why it did not drain when it did not (then no crashes are tallied). */
export interface ScheduleOutcome {
  readonly world: World;
  readonly stuck?: string;
}

/** Runs the schedule of `seed` and adds its crashes, by gate label, to `crashes`. */
export async function runModelSchedule(
  seed: number,
  spec: ScheduleSpec,
  crashes: Map<string, number>,
): Promise<ScheduleOutcome> {
  return new ModelSchedule(random(seed), spec).run(crashes);
}

class ModelSchedule {
  private readonly pipeline: Pipeline;
  private readonly world: World;
  private readonly partitions: number;
  private readonly scheduler: Scheduler;
  private readonly queues: Array<Array<ModelEvent | Marker>>;
  private readonly committed: number[];
  private readonly offsets = new Map<number, number>();
  private streamTimeMs = 0;
  // Errors other than injected crashes: Lambda retries the batch; they must not repeat forever.
  private readonly failures: string[] = [];

  constructor(
    private readonly rng: Random,
    private readonly spec: ScheduleSpec,
  ) {
    this.partitions = 2 + rng.int(2);
    // Half the schedules get one bucket and an item limit so small that most shards split.
    const tinyItems = rng.chance(0.5);
    // Half the schedules use the watermark from every source's progress (issue 14).
    const watermarkFrom = rng.chance(0.5) ? "sources" : "max";
    this.pipeline = spec.pipeline({
      partitions: this.partitions,
      stateBuckets: tinyItems ? 1 : 2,
      watermarkFrom,
    });
    const memory = new MemoryWindowStore(tinyItems ? spec.tinyItemLimit : 350_000);
    this.scheduler = new Scheduler(rng, 0.06);
    this.world = new World(this.pipeline, memory, this.sourceEvents(), this.partitionOf);
    this.queues = Array.from({ length: this.partitions }, () => []);
    this.committed = Array.from({ length: this.partitions }, () => 0);
    this.fillQueues();
  }

  readonly partitionOf = (key: string) => key.charCodeAt(0) % this.partitions;

  async run(crashes: Map<string, number>): Promise<ScheduleOutcome> {
    if (!(await this.drain()))
      return { world: this.world, stuck: `does not drain (${this.failures.slice(-3).join("; ")})` };
    this.scheduler.crashChance = 0;
    if (this.spec.farEvents) {
      this.queueFarEvents();
      if (!(await this.drain())) return { world: this.world, stuck: "far events do not drain" };
    }
    // Quiet: the flush closes whatever is due.
    this.scheduler.step += FLUSH_QUIET_MS;
    await this.scheduler.run([this.flush]);
    for (const [label, n] of this.scheduler.crashesAt)
      crashes.set(label, (crashes.get(label) ?? 0) + n);
    return { world: this.world };
  }

  /** Source events: two source partitions, mostly in time order, some back in time. */
  private sourceEvents(): ModelEvent[] {
    const { rng, spec } = this;
    const events: ModelEvent[] = [];
    const count = 8 + rng.int(9);
    for (let index = 0; index < count; index++) {
      this.streamTimeMs += rng.int(5) * MINUTE_MS;
      const back = rng.chance(spec.backChance)
        ? (spec.backMinutes.min + rng.int(spec.backMinutes.spread)) * MINUTE_MS
        : 0;
      const s = rng.int(2);
      events.push({
        index,
        key: spec.keys[rng.int(spec.keys.length)] as string,
        eventTimeMs: Math.max(0, this.streamTimeMs - back) + rng.int(60) * 1_000,
        source: `t/${s}`,
        sourceOffset: this.nextOffset(s),
      });
    }
    return events;
  }

  private nextOffset(source: number): number {
    const offset = this.offsets.get(source) ?? 0;
    this.offsets.set(source, offset + 1);
    return offset;
  }

  /**
   * Repartition queues, with re-produced prefixes (a parse batch retried after producing). With
   * `sources`, a parse batch of a source ends (at random) with its progress marker to every
   * partition, behind that batch's events (issue 14's wire format).
   */
  private fillQueues(): void {
    const { rng, queues } = this;
    const { events } = this.world;
    const batchMaxMs = new Map<string, number>();
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as ModelEvent;
      queues[this.partitionOf(e.key)]?.push(e);
      batchMaxMs.set(e.source, Math.max(batchMaxMs.get(e.source) ?? e.eventTimeMs, e.eventTimeMs));
      if (rng.chance(0.15)) {
        const from = rng.int(i + 1);
        for (const again of events.slice(from, i + 1).filter((x) => x.source === e.source))
          queues[this.partitionOf(again.key)]?.push(again);
      }
      if (this.pipeline.watermarkFrom === "sources" && rng.chance(0.4)) {
        const marker: Marker = {
          marker: true,
          source: e.source,
          maxEventTimeMs: batchMaxMs.get(e.source) as number,
          sourceOffset: e.sourceOffset,
          behind: rng.chance(0.2),
        };
        batchMaxMs.delete(e.source);
        for (const q of queues) q.push(marker);
      }
    }
  }

  /** A day past the stream, from each source to each partition: every watermark passes it all. */
  private queueFarEvents(): void {
    const farMs = this.streamTimeMs + 24 * 60 * MINUTE_MS;
    for (let p = 0; p < this.partitions; p++) {
      const key = [..."wxyz"].find((c) => this.partitionOf(c) === p) as string;
      for (const s of [0, 1]) {
        this.queues[p]?.push({
          index: -1,
          key,
          eventTimeMs: farMs,
          source: `t/${s}`,
          sourceOffset: this.nextOffset(s),
        });
      }
    }
  }

  private record(p: number, offset: number, e: ModelEvent | Marker): KafkaRecord {
    return {
      topic: this.pipeline.topics.repartition,
      partition: p,
      offset,
      timestampMs: 0,
      key: "marker" in e ? null : Buffer.from(e.key),
      value: Buffer.from(
        "marker" in e
          ? encodeProgressMarker(e)
          : encodeRepartitioned(
              {
                groupKey: e.key,
                eventTimeMs: e.eventTimeMs,
                row: this.spec.row(e),
                source: e.source,
                sourceOffset: e.sourceOffset,
              },
              this.pipeline.carriedColumns,
            ),
      ),
      headers: [],
    };
  }

  /** One actor's deps: its store calls and produce gated, and what they did recorded. */
  private actorDeps() {
    const { pipeline, scheduler, world } = this;
    // The watermark this actor read last, for the late records it produces.
    let watermarkReadMs: number | undefined;
    const store = gatedStore(world.memory, scheduler, (name, args, result) => {
      if (name === "readPartition") {
        watermarkReadMs = (result as { watermarkMs?: number } | undefined)?.watermarkMs;
      }
      if (name === "readProgress" && pipeline.watermarkFrom === "max") {
        watermarkReadMs = watermarkOf(
          result as Awaited<ReturnType<WindowStore["readProgress"]>>,
          pipeline.watermarkDelayMs,
        ).watermarkMs;
      }
      if (name === "closeShard" && result === true) {
        const id = args[1] as { partition: number; endMs: number };
        world.closes.push({ step: scheduler.step, partition: id.partition, endMs: id.endMs });
      }
      if (name === "splitShard" && result === true) world.splits++;
    });
    const send = async (topics: TopicMessages[]) => {
      await scheduler.gate("send:before");
      for (const t of topics)
        for (const message of t.messages) {
          world.produced.push({ step: scheduler.step, topic: t.topic, message });
          if (t.topic === pipeline.topics.late) world.lateReads.set(message, watermarkReadMs);
        }
      await scheduler.gate("send:after");
    };
    const nowMs = () => 1_000_000 + scheduler.step * 2_000;
    return { pipeline, store, send, nowMs };
  }

  private invocation(p: number, size: number) {
    return async () => {
      const from = this.committed[p] as number;
      const batch = (this.queues[p] as Array<ModelEvent | Marker>).slice(from, from + size);
      if (batch.length === 0) return;
      try {
        await processWindowBatch(
          batch.map((e, i) => this.record(p, from + i, e)),
          this.actorDeps(),
        );
        this.committed[p] = Math.max(this.committed[p] as number, from + batch.length);
      } catch (error) {
        if (!(error instanceof Crash)) this.failures.push((error as Error).message);
      }
    };
  }

  private readonly flush = async () => {
    try {
      await flushDueWindows(this.actorDeps());
    } catch (error) {
      if (!(error instanceof Crash)) this.failures.push((error as Error).message);
    }
  };

  /** Rounds of 1–3 actors until every queue is committed; crashes stop after a while. */
  private async drain(): Promise<boolean> {
    const remaining = () => this.queues.some((q, p) => (this.committed[p] as number) < q.length);
    for (let round = 0; remaining() || round < 3; round++) {
      if (round === CRASHING_ROUNDS) this.scheduler.crashChance = 0;
      if (round > MAX_ROUNDS) return false;
      await this.scheduler.run(this.roundActors());
    }
    return true;
  }

  /** Flushes and invocations of random partitions, some of one partition at once (a retry). */
  private roundActors(): Array<() => Promise<void>> {
    const { rng } = this;
    const actors: Array<() => Promise<void>> = [];
    const invoked = new Set<number>();
    const invoke = (p: number) => {
      if (invoked.has(p)) this.world.concurrent.add(p);
      invoked.add(p);
      actors.push(this.invocation(p, 1 + rng.int(4)));
    };
    for (let n = 1 + rng.int(3); n > 0; n--) {
      const roll = rng.next();
      const p = rng.int(this.partitions);
      if (roll < 0.15) actors.push(this.flush);
      else invoke(p);
      if (roll > 0.85) invoke(p); // a concurrent retry
    }
    return actors;
  }
}
