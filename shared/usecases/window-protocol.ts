import type { Message } from "kafkajs";
import type { RepartitionedEvent } from "../codec/repartition.ts";
import type { Aggregator } from "../engine/aggregations.ts";
import { applyEvents } from "../engine/batch.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import { StateLayoutChangedError } from "../store/errors.ts";
import {
  childrenOf,
  type OpenedEnds,
  type PipelineProgress,
  type ShardId,
  type StoredShard,
  shardKey,
  shardState,
  splitBitOf,
  type WindowStore,
} from "../store/window-store.ts";
import { EMITTED_RETENTION_MS, resultMessage } from "./results.ts";
import { endsToClose, sessionResults } from "./session-results.ts";

/**
 * The exactly-once window protocol, in one place. A batch of one repartition partition P goes
 * through these transitions, each one store call (or one per shard) with its guard in the store:
 *
 * | step | store call | guard | holds after |
 * |---|---|---|---|
 * | read | `readProgress` | — | W = the watermark before the batch; P's open ends; the layout checked ({@link checkLayout}) |
 * | plan | (pure, `engine/batch.ts`), then `closeShard` per late event's leaf ({@link settleLateEvents}) | version read, not closed | an event is late iff all its windows end ≤ W, unless a shard already applied it (a duplicate); its leaf is closed before it is reported late, so an invocation racing under an older W cannot count it too |
 * | open | `openWindows` | none (set add) | **I1** every end P is about to write is listed as open: state is never written for an unlisted end (the returned token is required by every write) |
 * | write | `putShard` / `splitShard` per leaf | version read, shard open ({@link writeLeaves}) | **I2** a shard's `applied[source] = o` means every event of that source ≤ o routed to its key range is in its entries exactly once |
 * | progress | `recordProgress`, `advanceWatermark` (`max`) or `recordSources` (`sources`) | never lower | **I5** progress and W only move forward |
 * | emit | `closeShard` per leaf, produce, `closeEnds` ({@link emitDueWindows}) | version read, not closed | **I3** a closed shard never changes, so every (re)send of its results is byte-identical; **I4** an end is forgotten only after all its leaves are closed and the broker acknowledged their results |
 *
 * A crash between any two calls leaves a state the retry (or the flush) finishes: before `open`
 * nothing happened; after it a listed end without state costs a tombstone when it closes; after
 * some writes the retry skips what `applied` covers (I2) and, its ends being listed (I1), the
 * window is closed by whoever next sees it due; after `close` the results are re-sent from the
 * closed shard (I3) until the end is forgotten (I4).
 *
 * Session windows run this protocol on bins one gap wide; `session-results.ts` lists the three
 * points where they differ (late events' bins, the next bin's end listed, sessions emitted).
 */
export const PROTOCOL_STEPS = ["read", "plan", "open", "write", "progress", "emit"] as const;

// Optimistic-locking rounds per shard before the invocation fails and Lambda retries it.
export const MAX_WRITE_ATTEMPTS = 8;

// A split tree deeper than the hash's 32 bits could not separate keys any further.
const MAX_SPLIT_DEPTH = 32;

/**
 * Refuses state written with another `partitions` or `stateBuckets` (a key would be counted in
 * two places); records the layout on a pipeline's first batch.
 */
export async function checkLayout(
  store: WindowStore,
  pipeline: Pipeline,
  progress: PipelineProgress,
): Promise<void> {
  const wanted = { partitions: pipeline.partitions, stateBuckets: pipeline.stateBuckets };
  const recorded = progress.layout;
  if (!recorded && (await store.recordLayout(pipeline.name, wanted))) return;
  const actual = recorded ?? (await store.readProgress(pipeline.name)).layout;
  if (
    actual &&
    (actual.partitions !== wanted.partitions || actual.stateBuckets !== wanted.stateBuckets)
  ) {
    throw new StateLayoutChangedError(
      `pipeline '${pipeline.name}': its state was written with partitions: ${actual.partitions}, ` +
        `stateBuckets: ${actual.stateBuckets}, but the definition now says partitions: ` +
        `${wanted.partitions}, stateBuckets: ${wanted.stateBuckets}. Changing them moves keys to ` +
        "other state items (two totals for one window). Restore the old values, or drain the " +
        "pipeline (stop its sources until every window was emitted) and delete its state items " +
        `(partition keys starting 'w#${pipeline.name}#' and 'p#${pipeline.name}') before starting it ` +
        "with the new layout.",
    );
  }
}

/** One leaf of a bucket's split tree, as read, with the batch's events that go to it. */
export interface Leaf {
  readonly id: ShardId;
  readonly stored: StoredShard | undefined;
  readonly events: RepartitionedEvent[];
}

/**
 * Finds the leaves the events of some shards go to: reads the roots in one call, and walks down
 * the (rare) split ones level by level, routing each event by its key.
 */
export async function resolveLeaves(
  store: WindowStore,
  pipeline: string,
  roots: ReadonlyArray<{ readonly id: ShardId; readonly events: readonly RepartitionedEvent[] }>,
): Promise<Leaf[]> {
  const leaves: Leaf[] = [];
  let level = roots.map((r) => ({ id: r.id, events: [...r.events] }));
  while (level.length > 0) {
    const stored = await store.getShards(
      pipeline,
      level.map((n) => n.id),
    );
    const next: typeof level = [];
    for (const node of level) {
      const shard = stored.get(shardKey(node.id));
      if (shard?.split) next.push(...routeToChildren(node.id, node.events));
      else leaves.push({ id: node.id, stored: shard, events: node.events });
    }
    level = next;
  }
  return leaves;
}

function routeToChildren(
  id: ShardId,
  events: readonly RepartitionedEvent[],
): Array<{ id: ShardId; events: RepartitionedEvent[] }> {
  const [zero, one] = childrenOf(id);
  const depth = (id.path ?? "").length;
  const routed = [
    { id: zero, events: [] as RepartitionedEvent[] },
    { id: one, events: [] as RepartitionedEvent[] },
  ];
  for (const e of events) routed[splitBitOf(e.groupKey, depth) === "0" ? 0 : 1]?.events.push(e);
  return routed.filter((r) => r.events.length > 0);
}

/**
 * Every stored leaf of the windows of `partition` ending at `endsMs` (all buckets, split shards
 * walked down): a window's whole state, for tools that list a partition's windows or a key's
 * aggregates (`npm run state`). Absent buckets are left out.
 */
export async function readWindowLeaves(
  store: WindowStore,
  pipeline: Pipeline,
  partition: number,
  endsMs: readonly number[],
): Promise<StoredShard[]> {
  const leaves: StoredShard[] = [];
  let level: ShardId[] = endsMs.flatMap((endMs) =>
    Array.from({ length: pipeline.stateBuckets }, (_, bucket) => ({
      partition,
      bucket,
      startMs: endMs - pipeline.windowSizeMs,
      endMs,
    })),
  );
  while (level.length > 0) {
    const stored = await store.getShards(pipeline.name, level);
    const next: ShardId[] = [];
    for (const id of level) {
      const shard = stored.get(shardKey(id));
      if (shard?.split) next.push(...childrenOf(id));
      else if (shard) leaves.push(shard);
    }
    level = next;
  }
  return leaves;
}

/** What writing a batch's leaves did. */
export interface WriteOutcome {
  /** Events applied by this call (each once, even when it went to several windows). */
  readonly counted: Set<RepartitionedEvent>;
  /** Events whose window was closed before this call could apply them: late now. */
  readonly late: RepartitionedEvent[];
  /** Update mode: the changed (key, window) results. */
  readonly updates: Message[];
  readonly shardsWritten: number;
  readonly conflicts: number;
}

/**
 * The write step: applies each leaf's events under the version it read (I2), splitting a leaf
 * that would outgrow an item first, re-reading on a conflict. Requires the `open` token (I1).
 */
export async function writeLeaves(
  store: WindowStore,
  pipeline: Pipeline,
  aggregator: Aggregator,
  opened: OpenedEnds,
  leaves: readonly Leaf[],
  afterFirstWrite?: () => void | Promise<void>,
): Promise<WriteOutcome> {
  const outcome = {
    counted: new Set<RepartitionedEvent>(),
    late: [] as RepartitionedEvent[],
    updates: [] as Message[],
    shardsWritten: 0,
    conflicts: 0,
  };
  const pending = [...leaves];
  for (let leaf = pending.shift(); leaf; leaf = pending.shift()) {
    let current = leaf.stored;
    for (let attempt = 1; ; attempt++) {
      const state = shardState(current);
      if (state === "closed") {
        // Closed meanwhile (the watermark passed it after we read it): what is missing is late.
        for (const e of leaf.events)
          if ((current?.applied[e.source] ?? -1) < e.sourceOffset) outcome.late.push(e);
        break;
      }
      if (state === "split") {
        // Split meanwhile (by a concurrent invocation): go down to its children.
        pending.push(...(await resolveLeaves(store, pipeline.name, [leaf])));
        break;
      }
      const next = applyEvents(current, leaf.events, aggregator);
      if (!next) break; // all applied by an earlier attempt; its end is listed (I1)
      const shard: StoredShard = {
        ...leaf.id,
        entries: next.entries,
        applied: next.applied,
        version: (current?.version ?? 0) + 1,
        ...(pipeline.emit === "update"
          ? { expiresAtMs: leaf.id.endMs + pipeline.watermarkDelayMs + EMITTED_RETENTION_MS }
          : {}),
      };
      if (!(await store.fits(pipeline.name, shard))) {
        const children = await splitLeaf(store, pipeline.name, opened, leaf.id, current);
        if (children) {
          pending.push(...routeLeaf(leaf, children));
          break;
        }
      } else if (await store.putShard(pipeline.name, opened, shard, current?.version)) {
        for (const e of next.newEvents) outcome.counted.add(e);
        outcome.shardsWritten++;
        if (pipeline.emit === "update") outcome.updates.push(...updatesOf(shard, next.changedKeys));
        if (outcome.shardsWritten === 1) await afterFirstWrite?.();
        break;
      }
      outcome.conflicts++;
      if (attempt === MAX_WRITE_ATTEMPTS) {
        throw new Error(
          `window shard ${shardKey(leaf.id)} kept changing under ${attempt} write attempts; retry the batch`,
        );
      }
      current = await reread(store, pipeline.name, leaf.id);
    }
  }
  return outcome;

  function updatesOf(shard: StoredShard, changedKeys: readonly string[]): Message[] {
    return changedKeys.map((groupKey) =>
      resultMessage(pipeline, aggregator, {
        groupKey,
        startMs: shard.startMs,
        endMs: shard.endMs,
        state: shard.entries.get(groupKey),
        version: shard.version,
      }),
    );
  }
}

async function reread(store: WindowStore, pipeline: string, id: ShardId) {
  return (await store.getShards(pipeline, [id])).get(shardKey(id));
}

function routeLeaf(leaf: Leaf, children: readonly [StoredShard, StoredShard]): Leaf[] {
  return routeToChildren(leaf.id, leaf.events).map((r) => ({
    id: r.id,
    events: r.events,
    stored: children.find((c) => c.path === r.id.path),
  }));
}

/**
 * Splits a leaf (open, or absent when one batch alone brings more than an item holds) into two
 * children that share its keys by {@link splitBitOf} and inherit its applied offsets. Returns the
 * children as stored, or undefined when the leaf changed meanwhile (re-read and try again).
 */
async function splitLeaf(
  store: WindowStore,
  pipeline: string,
  opened: OpenedEnds,
  id: ShardId,
  current: StoredShard | undefined,
): Promise<readonly [StoredShard, StoredShard] | undefined> {
  const depth = (id.path ?? "").length;
  if (depth >= MAX_SPLIT_DEPTH) {
    throw new Error(`window shard ${shardKey(id)} cannot be split further`);
  }
  const leaf: StoredShard = current ?? { ...id, entries: new Map(), applied: {}, version: 0 };
  const [zero, one] = childrenOf(id);
  const child = (childId: ShardId, bit: "0" | "1"): StoredShard => ({
    ...childId,
    entries: new Map([...leaf.entries].filter(([key]) => splitBitOf(key, depth) === bit)),
    applied: { ...leaf.applied },
    version: 1,
  });
  const children = [child(zero, "0"), child(one, "1")] as const;
  return (await store.splitShard(pipeline, opened, leaf, children)) ? children : undefined;
}

/**
 * Settles the events a plan found late (their windows ended at or before the watermark read):
 * returns those a leaf already applied (duplicates, not late). A leaf neither closed nor holding
 * an event is closed first (conditional on the version read, a tombstone if absent), so that an
 * invocation of the same partition racing this one under an older watermark cannot count the
 * event after it was reported late; a leaf it wrote meanwhile is re-read and decides. A closed
 * leaf with state is emitted by whoever emits its (due, listed) end, as any closed window is.
 */
export async function settleLateEvents(
  store: WindowStore,
  pipeline: string,
  leaves: readonly Leaf[],
  nowMs: number,
): Promise<Set<RepartitionedEvent>> {
  const counted = new Set<RepartitionedEvent>();
  const byLeaf = new Map<string, Leaf>();
  for (const leaf of leaves) {
    const key = shardKey(leaf.id);
    const seen = byLeaf.get(key);
    byLeaf.set(key, seen ? { ...seen, events: [...seen.events, ...leaf.events] } : leaf);
  }
  const pending = [...byLeaf.values()];
  for (let leaf = pending.shift(); leaf; leaf = pending.shift()) {
    let current = leaf.stored;
    for (let attempt = 1; ; attempt++) {
      const applied = (e: RepartitionedEvent) =>
        (current?.applied[e.source] ?? -1) >= e.sourceOffset;
      const state = shardState(current);
      if (state === "split") {
        pending.push(...(await resolveLeaves(store, pipeline, [leaf])));
        break;
      }
      if (state === "closed" || leaf.events.every(applied)) {
        for (const e of leaf.events) if (applied(e)) counted.add(e);
        break;
      }
      const expiresAtMs = leaf.id.endMs + EMITTED_RETENTION_MS;
      if (await store.closeShard(pipeline, leaf.id, current?.version, nowMs, expiresAtMs)) {
        for (const e of leaf.events) if (applied(e)) counted.add(e);
        break;
      }
      if (attempt === MAX_WRITE_ATTEMPTS) {
        throw new Error(
          `window shard ${shardKey(leaf.id)} kept changing while settling late events; retry`,
        );
      }
      current = await reread(store, pipeline, leaf.id);
    }
  }
  return counted;
}

/**
 * The emit step for windows of `partition` ending at `endsMs` (all due): close every leaf of every
 * bucket (conditional on the version read, so no write slips in between; an absent one becomes a
 * tombstone), produce the results, wait for the broker, then forget the ends (I3, I4). Shared by
 * the window and flush functions; if both race, or a crash comes between closing and producing,
 * the results are re-sent byte-identical. Returns how many results this call closed.
 */
export async function emitDueWindows(
  deps: {
    readonly pipeline: Pipeline;
    readonly store: WindowStore;
    readonly send: (topicMessages: Array<{ topic: string; messages: Message[] }>) => Promise<void>;
    readonly nowMs: () => number;
    readonly checkpoint?: (step: "after-emit") => void | Promise<void>;
  },
  aggregator: Aggregator,
  partition: number,
  endsMs: readonly number[],
): Promise<number> {
  const { pipeline, store } = deps;
  if (endsMs.length === 0) return 0;
  const nowMs = deps.nowMs();
  let emitted = 0;
  const closed: StoredShard[] = [];
  // Session bins: the bin before each due one is closed too (its sessions go out now).
  let level: ShardId[] = endsToClose(pipeline, endsMs).flatMap((endMs) =>
    Array.from({ length: pipeline.stateBuckets }, (_, bucket) => ({
      partition,
      bucket,
      startMs: endMs - pipeline.windowSizeMs,
      endMs,
    })),
  );
  while (level.length > 0) {
    const stored = await store.getShards(pipeline.name, level);
    const next: ShardId[] = [];
    for (const id of level) {
      let shard = stored.get(shardKey(id));
      for (let attempt = 1; ; attempt++) {
        const state = shardState(shard);
        if (state === "split") {
          next.push(...childrenOf(id));
          break;
        }
        if (state === "closed") {
          if (shard) closed.push(shard); // closed before (a crash, a racing flush): re-sent
          break;
        }
        const expiresAtMs = id.endMs + EMITTED_RETENTION_MS;
        if (await store.closeShard(pipeline.name, id, shard?.version, nowMs, expiresAtMs)) {
          emitted += shard?.entries.size ?? 0;
          if (shard) closed.push(shard);
          break;
        }
        if (attempt === MAX_WRITE_ATTEMPTS) {
          throw new Error(`window shard ${shardKey(id)} kept changing while closing; retry`);
        }
        shard = await reread(store, pipeline.name, id);
      }
    }
    level = next;
  }
  const messages =
    pipeline.sessionGapMs === undefined
      ? closed.flatMap(resultsOf)
      : await sessionResults(store, pipeline, partition, closed, endsMs, nowMs);
  if (pipeline.sessionGapMs !== undefined) emitted = emitted > 0 ? messages.length : 0;
  await deps.send([{ topic: pipeline.topics.output, messages }]);
  await deps.checkpoint?.("after-emit");
  await store.closeEnds(pipeline.name, partition, endsMs);
  return emitted;

  function resultsOf(shard: StoredShard): Message[] {
    return [...shard.entries.keys()].sort().map((groupKey) =>
      resultMessage(pipeline, aggregator, {
        groupKey,
        startMs: shard.startMs,
        endMs: shard.endMs,
        state: shard.entries.get(groupKey),
        version: shard.version,
      }),
    );
  }
}
