import { PipelineDefinitionError } from "./errors.ts";

/** A duration as Spark writes it ("10 minutes", "1 hour", "500 ms") or a number of milliseconds. */
export type Duration = string | number;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1_000,
  sec: 1_000,
  secs: 1_000,
  second: 1_000,
  seconds: 1_000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
};

/** Parses a duration to milliseconds; `field` names the setting in the error message. */
export function durationMs(value: Duration, field: string): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new PipelineDefinitionError(`${field}: ${value} is not a duration`);
    return value;
  }
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(value);
  const unit = match?.[2]?.toLowerCase();
  const perUnit = unit === undefined ? undefined : UNIT_MS[unit];
  if (!match || perUnit === undefined) {
    throw new PipelineDefinitionError(
      `${field}: '${value}' is not a duration (write e.g. '10 minutes', '30 seconds', '1 hour' or a number of ms)`,
    );
  }
  return Number(match[1]) * perUnit;
}
