import { HEADERS } from "../../shared/usecases/headers.ts";

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

/** An output record as a test reads it (the MSK event's shape: base64 key and value). */
interface OutputRecord {
  readonly key?: string;
  readonly value?: string | null;
  readonly headers: ReadonlyArray<Readonly<Record<string, readonly number[]>>>;
}

/**
 * The output's records by result id. A result id seen twice must carry the same key and value
 * bytes (the only duplicate the protocol allows): throws naming the id if not.
 */
export function resultsById<R extends OutputRecord>(records: readonly R[]): Map<string, R> {
  const byId = new Map<string, R>();
  for (const record of records) {
    const header = record.headers.find((h) => HEADERS.resultId in h)?.[HEADERS.resultId] ?? [];
    const id = Buffer.from(header).toString();
    const earlier = byId.get(id);
    if (earlier && (earlier.key !== record.key || earlier.value !== record.value)) {
      throw new Error(`result ${id} was emitted twice with different bytes`);
    }
    byId.set(id, record);
  }
  return byId;
}
