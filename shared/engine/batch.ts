import type { RepartitionedEvent } from "../codec/repartition.ts";
import { type ShardId, type StoredShard, shardKey } from "../store/window-store.ts";
import type { Aggregator, AggState } from "./aggregations.ts";
import { bucketOf } from "./buckets.ts";
import { isLate } from "./watermark.ts";
import { windowsFor } from "./windows.ts";

/** A batch sorted out: what goes into which window shard, and what is late. */
export interface BatchPlan {
  /** Per shard (by {@link shardKey}), in first-seen order, its events in batch order. */
  readonly shards: Map<string, { readonly id: ShardId; readonly events: RepartitionedEvent[] }>;
  /** Events all of whose windows had closed before the batch (Spark drops them), with the shards they would have gone to. */
  readonly late: Array<{ readonly event: RepartitionedEvent; readonly shards: ShardId[] }>;
  readonly maxEventTimeMs: number | undefined;
}

/**
 * Assigns one repartition partition's batch to window shards and sorts out the late events
 * against the watermark in force before the batch. An event behind the watermark whose window is
 * still open is counted; for sliding windows, an event counts in its open windows and not in the
 * closed ones (as Spark). Each shard keeps its events in batch order, which is source-offset
 * order per source partition: what the exactly-once skip in {@link applyEvents} relies on.
 */
export function planBatch(
  events: readonly RepartitionedEvent[],
  layout: { readonly partition: number; readonly buckets: number },
  sizeMs: number,
  slideMs: number,
  watermarkBeforeMs: number | undefined,
): BatchPlan {
  const shards: BatchPlan["shards"] = new Map();
  const late: BatchPlan["late"] = [];
  let maxEventTimeMs: number | undefined;
  for (const event of events) {
    maxEventTimeMs =
      maxEventTimeMs === undefined
        ? event.eventTimeMs
        : Math.max(maxEventTimeMs, event.eventTimeMs);
    const bucket = bucketOf(event.groupKey, layout.buckets);
    const assigned = windowsFor(event.eventTimeMs, sizeMs, slideMs).map(
      ({ startMs, endMs }): ShardId => ({ partition: layout.partition, bucket, startMs, endMs }),
    );
    const open = assigned.filter((w) => !isLate(w.endMs, watermarkBeforeMs));
    if (open.length === 0) {
      late.push({ event, shards: assigned });
      continue;
    }
    for (const id of open) {
      const key = shardKey(id);
      const entry = shards.get(key);
      if (entry) entry.events.push(event);
      else shards.set(key, { id, events: [event] });
    }
  }
  return { shards, late, maxEventTimeMs };
}

/** A shard's state after a batch, and which of the batch's events were new to it. */
export interface AppliedShard {
  readonly entries: Map<string, AggState>;
  readonly applied: Record<string, number>;
  readonly newEvents: RepartitionedEvent[];
  /** The group keys whose state changed, in first-seen order. */
  readonly changedKeys: string[];
}

/**
 * Applies a shard's events (one window, the group keys of one bucket) to its stored state,
 * skipping every event at or below the highest source offset already applied for its source
 * partition (a retry's re-delivery or a re-produced prefix). Events are pre-aggregated per key
 * first, so the stored state is merged once per key. Returns undefined when nothing is new.
 */
export function applyEvents(
  stored: Pick<StoredShard, "entries" | "applied"> | undefined,
  events: readonly RepartitionedEvent[],
  aggregator: Aggregator,
): AppliedShard | undefined {
  const applied: Record<string, number> = { ...(stored?.applied ?? {}) };
  const partials = new Map<string, AggState>();
  const newEvents: RepartitionedEvent[] = [];
  for (const event of events) {
    const done = applied[event.source];
    if (done !== undefined && event.sourceOffset <= done) continue;
    let partial = partials.get(event.groupKey);
    if (!partial) {
      partial = aggregator.init();
      partials.set(event.groupKey, partial);
    }
    aggregator.add(partial, event.row);
    applied[event.source] = event.sourceOffset;
    newEvents.push(event);
  }
  if (newEvents.length === 0) return undefined;
  const entries = new Map(stored?.entries as ReadonlyMap<string, AggState> | undefined);
  for (const [key, partial] of partials) {
    const before = entries.get(key);
    entries.set(key, before ? aggregator.merge(before, partial) : partial);
  }
  return { entries, applied, newEvents, changedKeys: [...partials.keys()] };
}
