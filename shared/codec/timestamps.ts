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
  const fast = parseCanonicalUtc(text);
  if (fast !== undefined) return fast;
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

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The hot path: `YYYY-MM-DDTHH:MM:SS[.fff…]Z`, what producers almost always write, checked and
 * computed digit by digit (no regex, no Date object). Anything else returns undefined and takes
 * the general path.
 */
function parseCanonicalUtc(text: string): number | string | undefined {
  const length = text.length;
  if (length < 20 || text.charCodeAt(length - 1) !== 90 /* Z */) return undefined;
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84)
    return undefined;
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined;
  const year = two(text, 0) * 100 + two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  const hour = two(text, 11);
  const minute = two(text, 14);
  const second = two(text, 17);
  let fractionMs = 0;
  if (length > 20) {
    if (text.charCodeAt(19) !== 46 /* . */ || length < 22 || length > 30) return undefined;
    for (let at = 20, scale = 100; at < length - 1; at++, scale /= 10) {
      const d = digit(text, at);
      if (Number.isNaN(d)) return undefined;
      if (scale >= 1) fractionMs += d * scale;
    }
  }
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const monthDays = (DAYS_IN_MONTH[month - 1] ?? 0) + (month === 2 && leap ? 1 : 0);
  // NaN (a non-digit) fails every comparison, so it falls through to the general path too.
  if (!(month >= 1 && day >= 1 && day <= monthDays && hour <= 23 && minute <= 59 && second <= 59))
    return undefined;
  const ms =
    (daysFromCivil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second) * 1000 +
    fractionMs;
  return ms >= YEAR_ONE_MS && ms < YEAR_10000_MS ? ms : OUT_OF_RANGE;
}

function digit(text: string, at: number): number {
  const d = text.charCodeAt(at) - 48;
  return d >= 0 && d <= 9 ? d : Number.NaN;
}

function two(text: string, at: number): number {
  return digit(text, at) * 10 + digit(text, at + 1);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** A JSON number as Spark reads it into a timestamp: epoch seconds, fraction allowed. */
export function epochSecondsToMs(seconds: number): number | string {
  const ms = Math.trunc(seconds * 1000);
  return ms >= YEAR_ONE_MS && ms < YEAR_10000_MS ? ms : OUT_OF_RANGE;
}
