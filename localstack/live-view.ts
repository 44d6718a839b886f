import type { PartitionStats } from "./esm/mapping.ts";
import type { PipelineTotals } from "./local-pipeline.ts";

/** Everything one frame of the live view shows. */
export interface ViewState {
  readonly pipeline: string;
  readonly uptimeMs: number;
  readonly rates: Readonly<Record<string, number>>;
  readonly totals: PipelineTotals;
  /** Per mapping, per `topic-partition`: stats and lag. */
  readonly mappings: ReadonlyArray<{
    name: string;
    partitions: Record<string, PartitionStats & { lag: number }>;
  }>;
  readonly watermarkMs: number | undefined;
  /** Event-time "now" (see {@link eventClock}); undefined until there is one. */
  readonly eventClockMs: number | undefined;
  /** Where the event clock comes from, shown beside it. */
  readonly eventClockSource: EventClockSource;
  readonly openEnds: ReadonlyArray<{ partition: number; endsMs: readonly number[] }>;
  readonly latestResults: readonly string[];
  readonly demoSent: number | undefined;
}

export type EventClockSource = "demo producer" | "newest event";

/**
 * Event-time "now" for the view: the demo producer's clock while it runs, else the newest event
 * time any partition has seen (never the wall clock: replayed or old events would make the
 * watermark look hours behind); undefined until there is one.
 */
export function eventClock(
  demoClockMs: number | undefined,
  partitionMaxEventTimesMs: ReadonlyArray<number | undefined>,
): { eventClockMs: number | undefined; eventClockSource: EventClockSource } {
  if (demoClockMs !== undefined)
    return { eventClockMs: demoClockMs, eventClockSource: "demo producer" };
  const seen = partitionMaxEventTimesMs.filter((ms): ms is number => ms !== undefined);
  return {
    eventClockMs: seen.length > 0 ? Math.max(...seen) : undefined,
    eventClockSource: "newest event",
  };
}

const time = (ms: number | undefined) =>
  ms === undefined ? "—" : new Date(ms).toISOString().slice(11, 19);
const duration = (ms: number) =>
  ms < 60_000
    ? `${(ms / 1000).toFixed(0)}s`
    : `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}s`;

/** Renders one frame as text (the same text the plain mode prints). */
export function renderFrame(view: ViewState): string {
  const { totals, rates } = view;
  const lines = [
    `sparkless · pipeline ${view.pipeline} · up ${duration(view.uptimeMs)}${view.demoSent === undefined ? "" : ` · demo producer sent ${view.demoSent}`}`,
    "",
    "stage            events/s   total",
    `source → parse   ${fmt(rates.parseIn)}   ${totals.parse.in}  (valid ${totals.parse.valid}, filtered ${totals.parse.filtered}, dead-letter ${totals.parse.invalid})`,
    ...breakdownLine("coerced to null", totals.parse.coerced),
    ...breakdownLine("dead letters", totals.parse.deadLetters),
    `repartition → window ${fmt(rates.windowIn)}   ${totals.window.in}  (counted ${totals.window.counted}, late ${totals.window.late}, duplicates skipped ${totals.window.duplicates})`,
    `results out      ${fmt(rates.resultsOut)}   ${totals.window.emitted + totals.flushEmitted}  (by flush ${totals.flushEmitted})${totals.failedInvocations > 0 ? ` · ${totals.failedInvocations} failed invocations (retried until they succeed)` : ""}`,
    "",
    `watermark ${time(view.watermarkMs)} · event clock ${time(view.eventClockMs)} (${view.eventClockSource}) · trails by ${view.watermarkMs === undefined || view.eventClockMs === undefined ? "—" : duration(view.eventClockMs - view.watermarkMs)}`,
    `open windows by end: ${view.openEnds.map((p) => `p${p.partition}[${p.endsMs.map(time).join(" ")}]`).join(" ") || "none"}`,
    "",
    "consumer lag (records)",
    ...view.mappings.map(
      ({ name, partitions }) =>
        `  ${name.padEnd(13)} ${
          Object.entries(partitions)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(
              ([tp, s]) =>
                `${tp.slice(tp.lastIndexOf("-") + 1)}:${s.lag}${s.errors > 0 ? ` (${s.errors} errors)` : ""}`,
            )
            .join("  ") || "waiting for records"
        }`,
    ),
    "",
    "latest results",
    ...(view.latestResults.length > 0
      ? view.latestResults.map((r) => `  ${r}`)
      : ["  none yet: a window is emitted once the watermark passes its end"]),
    "",
    "Ctrl-C stops everything.",
  ];
  return lines.join("\n");
}

function fmt(rate: number | undefined): string {
  return (rate ?? 0).toFixed(1).padStart(8);
}

/** `coerced to null: amount 3 (string for double) · …`, biggest first; nothing when empty. */
function breakdownLine(
  title: string,
  counts: Readonly<Record<string, number>> | undefined,
): string[] {
  const entries = Object.entries(counts ?? {}).sort(([, a], [, b]) => b - a);
  if (entries.length === 0) return [];
  const shown = entries.slice(0, 4).map(([what, n]) => {
    const at = what.indexOf(" (");
    return at === -1 ? `${what} ${n}` : `${what.slice(0, at)} ${n}${what.slice(at)}`;
  });
  return [
    `  ${title}: ${shown.join(" · ")}${entries.length > 4 ? ` · ${entries.length - 4} more` : ""}`,
  ];
}
