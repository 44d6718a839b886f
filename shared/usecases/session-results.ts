import type { Message } from "kafkajs";
import type { RepartitionedEvent } from "../codec/repartition.ts";
import { type Aggregator, aggregatorFor } from "../engine/aggregations.ts";
import { bucketOf } from "../engine/buckets.ts";
import {
  continues,
  runOf,
  type SessionRun,
  sessionAggregator,
  sessionOf,
} from "../engine/sessions.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import {
  childrenOf,
  type ShardId,
  type StoredShard,
  shardKey,
  shardState,
  splitBitOf,
  type WindowStore,
} from "../store/window-store.ts";
import { HEADERS } from "./headers.ts";
import { EMITTED_RETENTION_MS, resultMessage } from "./results.ts";

/*
 * Session windows on the window protocol (`window-protocol.ts`), unchanged but for three points:
 * - plan: an event goes to its bin (`engine/sessions.ts`), late iff `t + gap <= W`; a bin that
 *   gets state also lists the next bin's end as open, so the next bin is closed (a tombstone if
 *   nothing came) and its closing emits the sessions that ended in this one;
 * - a late event's leaf is not closed before it is reported late (other events of its bin may
 *   still count): {@link alreadyApplied} tells duplicates apart, and the late records are sent
 *   before any state write of the batch. A bin holds late and on-time events, so an on-time
 *   event written after a late one of the same source moves `applied` past it: a retry then
 *   takes the late event for counted, and it must have gone out already (the session model check
 *   lost such events when they were sent after the writes). Two invocations of one partition
 *   racing under different watermarks may both see an event, one counting it and one reporting
 *   it late: the result is right, the late topic over-reports (tumbling windows close the leaf
 *   instead, `settleLateEvents`);
 * - emit: closing bin m also closes bin m-1, then {@link sessionResults} sends the sessions whose
 *   last run is in bin m-1 (bin m has no run continuing them), each read back through closed bins
 *   only, so every (re)send of a session is byte-identical (I3) and merging is exactly-once: a
 *   run is in exactly one session, the one its chain gives once all its neighbours are closed.
 */

// Optimistic rounds per leaf while closing before the invocation fails and Lambda retries it.
const MAX_CLOSE_ATTEMPTS = 8;

/** The aggregator a pipeline's window state is written with (session bins add each run's first and last event time). */
export function windowAggregator(pipeline: Pipeline): Aggregator {
  const inner = aggregatorFor(pipeline.aggregations);
  return pipeline.sessionGapMs === undefined ? inner : sessionAggregator(inner, pipeline.eventTime);
}

/** The window ends to close when `endsMs` are due: session bins close with the bin before them. */
export function endsToClose(pipeline: Pipeline, endsMs: readonly number[]): number[] {
  const gapMs = pipeline.sessionGapMs;
  if (gapMs === undefined) return [...endsMs];
  return [...new Set(endsMs.flatMap((endMs) => [endMs - gapMs, endMs]))];
}

/** The late events (of resolved leaves) that a leaf applied already: duplicates, not late. */
export function alreadyApplied(
  leaves: ReadonlyArray<{
    readonly stored: StoredShard | undefined;
    readonly events: readonly RepartitionedEvent[];
  }>,
): Set<RepartitionedEvent> {
  const applied = new Set<RepartitionedEvent>();
  for (const { stored, events } of leaves)
    for (const e of events) if ((stored?.applied[e.source] ?? -1) >= e.sourceOffset) applied.add(e);
  return applied;
}

/**
 * The results of the sessions that end in the bins before the due bins `dueEndsMs` of
 * `partition`: `closed` holds every leaf of the due bins and of the bins before them (closed by
 * the caller). A session is walked back bin by bin through its key's leaves, each closed first if
 * it is not yet (a due bin, so no write may change it after its session went out).
 */
export async function sessionResults(
  store: WindowStore,
  pipeline: Pipeline,
  partition: number,
  closed: readonly StoredShard[],
  dueEndsMs: readonly number[],
  nowMs: number,
): Promise<Message[]> {
  const gapMs = pipeline.sessionGapMs as number;
  const inner = aggregatorFor(pipeline.aggregations);
  const runsByBin = new Map<number, Map<string, SessionRun>>();
  for (const shard of closed) {
    const runs = runsByBin.get(shard.startMs) ?? new Map<string, SessionRun>();
    runsByBin.set(shard.startMs, runs);
    for (const [key, state] of shard.entries) runs.set(key, runOf(state));
  }
  // Bins whose every leaf is in `closed`: a key missing there has no run.
  const binsInHand = new Set(endsToClose(pipeline, dueEndsMs).map((end) => end - 2 * gapMs));

  interface Walk {
    readonly groupKey: string;
    readonly chain: SessionRun[];
    binStartMs: number;
  }
  const walking: Walk[] = [];
  for (const endMs of [...dueEndsMs].sort((a, b) => a - b)) {
    const binMs = endMs - 2 * gapMs;
    for (const [groupKey, run] of runsByBin.get(binMs - gapMs) ?? []) {
      const next = runsByBin.get(binMs)?.get(groupKey);
      if (next && continues(run, next, gapMs)) continue; // the session goes on in bin m
      walking.push({ groupKey, chain: [run], binStartMs: binMs - gapMs });
    }
  }

  const messages: Message[] = [];
  let pending = walking;
  while (pending.length > 0) {
    const toRead = pending.filter((w) => !binsInHand.has(w.binStartMs - gapMs));
    const read = await finalLeaves(
      store,
      pipeline,
      toRead.map((w) => ({ groupKey: w.groupKey, partition, binStartMs: w.binStartMs - gapMs })),
      nowMs,
    );
    const next: Walk[] = [];
    for (const walk of pending) {
      const previousBinMs = walk.binStartMs - gapMs;
      const previous = binsInHand.has(previousBinMs)
        ? runsByBin.get(previousBinMs)?.get(walk.groupKey)
        : read.get(`${walk.groupKey}\u0000${previousBinMs}`);
      const first = walk.chain[0] as SessionRun;
      if (previous && continues(previous, first, gapMs)) {
        walk.chain.unshift(previous);
        walk.binStartMs = previousBinMs;
        next.push(walk);
        continue;
      }
      const session = sessionOf(walk.chain, gapMs, inner.merge);
      messages.push(
        resultMessage(pipeline, inner, {
          groupKey: walk.groupKey,
          startMs: session.startMs,
          endMs: session.endMs,
          state: session.state,
          version: 0,
        }),
      );
    }
    pending = next;
  }
  const id = (m: Message) => String(m.headers?.[HEADERS.resultId]);
  return messages.sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
}

/**
 * A key's run in each requested bin, read from its leaf (split trees walked down by the key),
 * closing a leaf that is open or absent first (conditional on the version read) so it is final.
 * Keyed by `<group key>\0<bin start ms>`; a key without a run is absent.
 */
async function finalLeaves(
  store: WindowStore,
  pipeline: Pipeline,
  requests: ReadonlyArray<{ groupKey: string; partition: number; binStartMs: number }>,
  nowMs: number,
): Promise<Map<string, SessionRun>> {
  const gapMs = pipeline.sessionGapMs as number;
  const runs = new Map<string, SessionRun>();
  let level = requests.map((r) => ({
    request: r,
    id: {
      partition: r.partition,
      bucket: bucketOf(r.groupKey, pipeline.stateBuckets),
      startMs: r.binStartMs,
      endMs: r.binStartMs + 2 * gapMs,
    } as ShardId,
  }));
  while (level.length > 0) {
    const ids = [...new Map(level.map((l) => [shardKey(l.id), l.id])).values()];
    const stored = await store.getShards(pipeline.name, ids);
    const final = new Map<string, StoredShard | undefined>();
    for (const id of ids) {
      let shard = stored.get(shardKey(id));
      for (let attempt = 1; ; attempt++) {
        const state = shardState(shard);
        if (state === "split" || state === "closed") break;
        const expiresAtMs = id.endMs + EMITTED_RETENTION_MS;
        if (await store.closeShard(pipeline.name, id, shard?.version, nowMs, expiresAtMs)) break;
        if (attempt === MAX_CLOSE_ATTEMPTS) {
          throw new Error(`window shard ${shardKey(id)} kept changing while closing; retry`);
        }
        shard = (await store.getShards(pipeline.name, [id])).get(shardKey(id));
      }
      final.set(shardKey(id), shard);
    }
    const next: typeof level = [];
    for (const { request, id } of level) {
      const shard = final.get(shardKey(id));
      if (shard?.split) {
        const [zero, one] = childrenOf(id);
        const bit = splitBitOf(request.groupKey, (id.path ?? "").length);
        next.push({ request, id: bit === "0" ? zero : one });
        continue;
      }
      const state = shard?.entries.get(request.groupKey);
      if (state !== undefined)
        runs.set(`${request.groupKey}\u0000${request.binStartMs}`, runOf(state));
    }
    level = next;
  }
  return runs;
}
