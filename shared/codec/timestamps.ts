/** Epoch ms of a UTC date; `setUTCFullYear` because `Date.UTC` maps years 0-99 to 1900-1999. */
function utcMs(year: number, monthIndex: number, day: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, day);
  return date.getTime();
}

// Spark's TimestampType spans years 1 to 9999.
const YEAR_ONE_MS = utcMs(1, 0, 1);
const YEAR_10000_MS = utcMs(10_000, 0, 1);
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const OUT_OF_RANGE = "out of range (years 1 to 9999)";

/**
 * Parses an ISO-8601 timestamp as Spark's JSON reader does with session time zone UTC: a date, or
 * date and time (`T` or a space), optional seconds and fraction, optional `Z` or offset (none
 * means UTC). Returns epoch ms, or the reason it is not a timestamp.
 */
export function parseIsoTimestampMs(text: string): number | string {
  const m = ISO.exec(text);
  if (!m) return "not an ISO-8601 timestamp (e.g. 2025-01-01T12:00:00Z)";
  const [year, month, day, hour, minute, second] = m
    .slice(1, 7)
    .map((part) => Number(part ?? 0)) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const dayStartMs = utcMs(year, month - 1, day);
  // Date rolls 2025-02-30 over to March; a real date comes back as itself.
  if (
    month < 1 ||
    month > 12 ||
    new Date(dayStartMs).getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return "not a valid date and time";
  }
  const fractionMs = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
  let ms = dayStartMs + ((hour * 60 + minute) * 60 + second) * 1000 + fractionMs;
  const zone = m[8];
  if (zone && zone !== "Z") {
    const digits = zone.slice(1).replace(":", "");
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
    ms -= (zone.startsWith("-") ? -1 : 1) * offsetMinutes * 60_000;
  }
  return ms >= YEAR_ONE_MS && ms < YEAR_10000_MS ? ms : OUT_OF_RANGE;
}

/** A JSON number as Spark reads it into a timestamp: epoch seconds, fraction allowed. */
export function epochSecondsToMs(seconds: number): number | string {
  const ms = Math.trunc(seconds * 1000);
  return ms >= YEAR_ONE_MS && ms < YEAR_10000_MS ? ms : OUT_OF_RANGE;
}
