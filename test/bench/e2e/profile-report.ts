import type { StageTotals } from "../../../localstack/esm/stage-profile.ts";
import type { ThroughputFigures } from "./measure.ts";
import type { StageSnapshot } from "./sparkless.ts";

/** DynamoDB calls that only read; every other store call writes (conditionally)… */
const READS = new Set(["readPartition", "readProgress", "getShards"]);
/** …except these, which make no call (an item's size, computed here): counted as CPU. */
const LOCAL = new Set(["fits"]);

/** One row of the profile: a stage, its cumulative time and its share of the run's wall time. */
export interface ProfileRow {
  readonly stage: string;
  readonly ms: number;
  readonly calls: number;
  /** Cumulative time / wall time: above 100% where invocations of several partitions overlap. */
  readonly shareOfWall: number;
}

/**
 * The per-stage profile as rows, per mapping: waiting (gathering records for the batching window,
 * no invocation in flight), the runner's work (building the event, committing), and the invocation
 * split into produce, DynamoDB reads, DynamoDB writes and the rest (decode, parse, plan: CPU).
 */
export function profileRows(snapshot: StageSnapshot): ProfileRow[] {
  const { stages, wallMs } = snapshot;
  const get = (name: string): StageTotals => stages[name] ?? { ms: 0, calls: 0 };
  const rows: ProfileRow[] = [];
  const row = (stage: string, t: StageTotals) =>
    rows.push({ stage, ms: Math.round(t.ms), calls: t.calls, shareOfWall: t.ms / wallMs });
  for (const mapping of ["parse-filter", "window", "flush"]) {
    const dynamo = (reads: boolean) =>
      Object.entries(stages)
        .filter(([name]) => name.startsWith(`${mapping}.dynamodb.`))
        .filter(([name]) => !LOCAL.has(name.split(".").pop() ?? ""))
        .filter(([name]) => READS.has(name.split(".").pop() ?? "") === reads)
        .reduce((sum, [, t]) => ({ ms: sum.ms + t.ms, calls: sum.calls + t.calls }), {
          ms: 0,
          calls: 0,
        });
    const invoke = get(`${mapping}.invoke`);
    const produce = get(`${mapping}.produce`);
    const [reads, writes] = [dynamo(true), dynamo(false)];
    if (mapping !== "flush") {
      row(`${mapping}: gathering (batching window)`, get(`${mapping}.gathering`));
      row(`${mapping}: idle (nothing in flight)`, get(`${mapping}.idle`));
      row(`${mapping}: build the MSK event`, get(`${mapping}.encode`));
      row(`${mapping}: invocations`, invoke);
    }
    row(`${mapping}:   produce (until acked)`, produce);
    row(`${mapping}:   DynamoDB reads`, reads);
    row(`${mapping}:   DynamoDB writes`, writes);
    if (mapping !== "flush") {
      row(`${mapping}:   decode, parse, plan (CPU)`, {
        ms: Math.max(0, invoke.ms - produce.ms - reads.ms - writes.ms),
        calls: invoke.calls,
      });
      row(`${mapping}: commit offsets`, get(`${mapping}.commit`));
    }
  }
  return rows;
}

/** The profile and the cores busy, as lines for the bench's summary. */
export function profileLines(figures: ThroughputFigures): string[] {
  const lines: string[] = [];
  const cores = Object.entries(figures.cpu.coresBusy)
    .map(([name, n]) => `${name} ${n.toFixed(2)}`)
    .join(", ");
  lines.push(
    `cores busy (of 2): ${cores}; whole machine ${figures.cpu.machineCoresBusy.toFixed(2)} over ${(figures.cpu.wallMs / 1000).toFixed(1)} s`,
  );
  const snapshot = figures.profile as StageSnapshot | undefined;
  if (!snapshot) return lines;
  lines.push(
    `stage (cumulative over ${(snapshot.wallMs / 1000).toFixed(1)} s)       ms   calls  of wall`,
  );
  for (const r of profileRows(snapshot)) {
    if (r.calls === 0 && r.ms === 0) continue;
    lines.push(
      `${r.stage.padEnd(42)} ${String(r.ms).padStart(7)} ${String(r.calls).padStart(7)} ${`${(r.shareOfWall * 100).toFixed(0)}%`.padStart(7)}`,
    );
  }
  const c = snapshot.counters;
  for (const mapping of ["parse-filter", "window"]) {
    const payloads = c[`${mapping}.payloads`] ?? 0;
    if (payloads === 0) continue;
    lines.push(
      `${mapping}: ${payloads} payloads, ${Math.round((c[`${mapping}.records`] ?? 0) / payloads)} records and ${((c[`${mapping}.partitionsInPayloads`] ?? 0) / payloads).toFixed(2)} partitions each on average`,
    );
  }
  return lines;
}
