/** One row of the hardening table: what was tried, what was injected, what came out. */
export interface HardeningRow {
  readonly case: string;
  readonly faults: string;
  readonly rounds: number;
  readonly eventsIn: number;
  readonly resultsOut: number;
  /** Expected windows missing from the output or with a different value. */
  readonly lost: number;
  /** Output records repeating a result already out (byte-identical, or the test fails). */
  readonly duplicated: number;
}

/**
 * Prints the row as a `[hardening]` JSON line, so a test run's log yields the table
 * (`grep '\[hardening\]'`). Printed before the assertions, so a failing run reports too.
 */
export function reportHardening(row: HardeningRow): void {
  console.log(`[hardening] ${JSON.stringify(row)}`);
}

/** Expected windows (`user|start` → total) missing from `actual` or with another total. */
export function lostWindows(
  expected: ReadonlyMap<string, number>,
  actual: ReadonlyMap<string, number>,
): number {
  let lost = 0;
  for (const [window, total] of expected) if (actual.get(window) !== total) lost++;
  return lost;
}
