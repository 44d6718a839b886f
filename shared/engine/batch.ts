import type { RepartitionedEvent } from "../codec/repartition.ts";
import type { StoredWindow, WindowId } from "../store/window-store.ts";
import { windowKey } from "../store/window-store.ts";
import type { Aggregator, AggState } from "./aggregations.ts";
import { isLate } from "./watermark.ts";
import { type WindowBounds, windowsFor } from "./windows.ts";

/** A batch sorted out: what goes into which window, and what is late. */
export interface BatchPlan {
  /** Per window (by {@link windowKey}), in first-seen order, the events it receives. */
  readonly windows: Map<string, { readonly id: WindowId; readonly events: RepartitionedEvent[] }>;
  /** Events all of whose windows had closed before the batch (Spark drops them). */
  readonly late: Array<{ readonly event: RepartitionedEvent; readonly windows: WindowBounds[] }>;
  readonly maxEventTimeMs: number | undefined;
}

/**
 * Assigns a batch's events to windows and sorts out the late ones against the watermark in force
 * before the batch. An event behind the watermark whose window is still open is counted; for
 * sliding windows, an event counts in its open windows and not in the closed ones (as Spark).
 */
export function planBatch(
  events: readonly RepartitionedEvent[],
  sizeMs: number,
  slideMs: number,
  watermarkBeforeMs: number | undefined,
): BatchPlan {
  const windows: BatchPlan["windows"] = new Map();
  const late: BatchPlan["late"] = [];
  let maxEventTimeMs: number | undefined;
  for (const event of events) {
    maxEventTimeMs =
      maxEventTimeMs === undefined
        ? event.eventTimeMs
        : Math.max(maxEventTimeMs, event.eventTimeMs);
    const assigned = windowsFor(event.eventTimeMs, sizeMs, slideMs);
    const open = assigned.filter((w) => !isLate(w.endMs, watermarkBeforeMs));
    if (open.length === 0) {
      late.push({ event, windows: assigned });
      continue;
    }
    for (const bounds of open) {
      const id: WindowId = {
        groupKey: event.groupKey,
        startMs: bounds.startMs,
        endMs: bounds.endMs,
      };
      const key = windowKey(id);
      const entry = windows.get(key);
      if (entry) entry.events.push(event);
      else windows.set(key, { id, events: [event] });
    }
  }
  return { windows, late, maxEventTimeMs };
}

/** A window's state after a batch, and which of the batch's events were new to it. */
export interface AppliedWindow {
  readonly state: AggState;
  readonly applied: Record<string, number>;
  readonly newEvents: RepartitionedEvent[];
}

/**
 * Applies a window's events to its stored state, skipping every event at or below the highest
 * source offset already applied for its source partition (a retry's re-delivery or a re-produced
 * prefix). Returns undefined when nothing is new.
 */
export function applyEvents(
  stored: Pick<StoredWindow, "state" | "applied"> | undefined,
  events: readonly RepartitionedEvent[],
  aggregator: Aggregator,
): AppliedWindow | undefined {
  const applied: Record<string, number> = { ...(stored?.applied ?? {}) };
  const partial = aggregator.init();
  const newEvents: RepartitionedEvent[] = [];
  for (const event of events) {
    const done = applied[event.source];
    if (done !== undefined && event.sourceOffset <= done) continue;
    aggregator.add(partial, event.row);
    applied[event.source] = event.sourceOffset;
    newEvents.push(event);
  }
  if (newEvents.length === 0) return undefined;
  const state = stored ? aggregator.merge(stored.state as AggState, partial) : partial;
  return { state, applied, newEvents };
}
