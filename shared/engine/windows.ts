/** A half-open window `[startMs, endMs)`. */
export interface WindowBounds {
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * The windows an event belongs to, as Spark's `window(col, size, slide)` assigns them: aligned to
 * the epoch, half-open, every window whose range contains the event, earliest first. Tumbling
 * windows are the case `slideMs === sizeMs`.
 */
export function windowsFor(eventTimeMs: number, sizeMs: number, slideMs: number): WindowBounds[] {
  // The latest window start at or before the event; floored modulo so negative times align too.
  const lastStartMs = eventTimeMs - (((eventTimeMs % slideMs) + slideMs) % slideMs);
  const windows: WindowBounds[] = [];
  for (let startMs = lastStartMs; startMs > eventTimeMs - sizeMs; startMs -= slideMs) {
    windows.unshift({ startMs, endMs: startMs + sizeMs });
  }
  return windows;
}
