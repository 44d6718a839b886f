/**
 * Spark 3.5's string → TIMESTAMP rules (`DateTimeUtils.stringToTimestamp`, what `from_json` and
 * `CAST` use with no `timestampFormat`), with session time zone UTC. Accepted, after trimming
 * spaces and control characters:
 *
 *   [+-]yyyy[y[y]]                      year of 4 to 6 digits, optional sign
 *   yyyy-[m]m, yyyy-[m]m-[d]d           month and day of 1 or 2 digits
 *   date then ' ' or 'T' then [h]h[:[m]m[:[s]s[.fraction]]]   fraction: digits past 6 dropped
 *   T[h]h:[m]m… or [h]h:[m]m…           a time alone: today's date (in its zone)
 *   then a zone: Z, ±h[h][[:]mm[[:]ss]], UTC/GMT/UT[±offset], a region (Europe/Paris, CET),
 *   a short id (PST, EST); a space may come before it
 *
 * and if that fails, the same with every "GMT" removed (Spark's legacy fallback). Returns epoch
 * milliseconds (microseconds floored: rows keep milliseconds), or undefined when Spark gives null.
 */
export function sparkTimestampMs(text: string, nowMs: number): number | undefined {
  const canonical = canonicalUtcMs(text);
  if (canonical !== undefined) return canonical;
  const ms = parseTimestamp(text, nowMs);
  if (ms !== undefined || !text.includes("GMT")) return ms;
  return parseTimestamp(text.replaceAll("GMT", ""), nowMs);
}

/** JSON integer seconds as Spark reads them: seconds × 1,000,000 in a wrapping 64-bit long. */
export function epochSecondsToMs(integerText: string): number | undefined {
  const seconds = Number(integerText);
  if (Math.abs(seconds) < 9_223_372_036_854) return seconds * 1000 + 0; // exact; -0 → 0
  const big = BigInt(integerText);
  if (big > LONG_MAX || big < LONG_MIN) return undefined; // getLongValue fails: null
  const micros = BigInt.asIntN(64, big * 1_000_000n);
  return Number(floorDiv(micros, 1000n));
}

const LONG_MAX = 2n ** 63n - 1n;
const LONG_MIN = -(2n ** 63n);
const MICROS_LIMIT_MS = 2 ** 63 / 1000; // |micros| must fit a long

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/**
 * The hot path: `YYYY-MM-DDTHH:MM:SS[.fff…]Z`, what producers almost always write, checked digit
 * by digit (no allocation); it reads as the general path would. Anything else: undefined.
 */
function canonicalUtcMs(text: string): number | undefined {
  const length = text.length;
  if (length < 20 || length > 30 || text.charCodeAt(length - 1) !== 90 /* Z */) return undefined;
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
    if (text.charCodeAt(19) !== 46 /* . */) return undefined;
    for (let at = 20, scale = 100; at < length - 1; at++, scale /= 10) {
      const d = text.charCodeAt(at) - 48;
      if (!(d >= 0 && d <= 9)) return undefined;
      if (scale >= 1) fractionMs += d * scale;
    }
  }
  // NaN (a non-digit) fails every comparison: the general path decides.
  if (!(month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59))
    return undefined;
  if (day > daysInMonth(year, month)) return undefined;
  return (
    (daysFromCivil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second) * 1000 +
    fractionMs
  );
}

function two(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : Number.NaN;
}

const isSpaceOrControl = (c: number) => c <= 32 || c === 127;

function parseTimestamp(raw: string, nowMs: number): number | undefined {
  let start = 0;
  let end = raw.length;
  while (start < end && isSpaceOrControl(raw.charCodeAt(start))) start++;
  while (end > start && isSpaceOrControl(raw.charCodeAt(end - 1))) end--;
  if (start === end) return undefined;
  // year, month, day, hour, minute, second, microseconds
  const segments = [1, 1, 1, 0, 0, 0, 0];
  let i = 0;
  let value = 0;
  let digits = 0;
  let fractionDigits = 0;
  let justTime = false;
  let yearSign = 0;
  let zone: string | undefined;
  const validDigits = (segment: number, n: number) =>
    segment === 6 ||
    (segment === 0 && n >= 4 && n <= 6) ||
    (segment !== 0 && segment !== 6 && n > 0 && n <= 2);
  const close = (segment: number): boolean => {
    if (!validDigits(segment, digits)) return false;
    segments[segment] = value;
    value = 0;
    digits = 0;
    return true;
  };
  let j = start;
  const first = raw.charCodeAt(j);
  if (first === 45 || first === 43) {
    yearSign = first === 45 ? -1 : 1;
    j++;
  }
  for (; j < end; j++) {
    const c = raw.charCodeAt(j);
    const d = c - 48;
    if (d >= 0 && d <= 9) {
      if (i === 6) fractionDigits++;
      if (i !== 6 || digits < 6) value = value * 10 + d;
      digits++;
      continue;
    }
    // Spark tests the very first character (j == 0), so " T12:00" does not start a time.
    if (j === 0 && c === 84 /* T */) {
      justTime = true;
      i = 3;
    } else if (i < 2) {
      if (c === 45 /* - */) {
        if (!close(i)) return undefined;
        i++;
      } else if (i === 0 && c === 58 /* : */ && yearSign === 0) {
        justTime = true;
        if (!validDigits(3, digits)) return undefined;
        segments[3] = value;
        value = 0;
        digits = 0;
        i = 4;
      } else return undefined;
    } else if (i === 2) {
      if (c !== 32 && c !== 84) return undefined;
      if (!close(i)) return undefined;
      i++;
    } else if (i === 3 || i === 4) {
      if (c !== 58) return undefined;
      if (!close(i)) return undefined;
      i++;
    } else if (i === 5 || i === 6) {
      if (c === 46 /* . */ && i === 5) {
        if (!close(i)) return undefined;
        i++;
      } else {
        if (!close(i)) return undefined;
        i++;
        zone = raw.slice(j, end);
        break;
      }
    } else return undefined;
  }
  if (zone === undefined && !close(i)) return undefined;
  let micros = segments[6] as number;
  for (let n = fractionDigits; n < 6; n++) micros *= 10;
  const [year, month, day, hour, minute, second] = segments as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const offsetOf = zone === undefined ? utc : zoneOffset(zone.trim());
  if (offsetOf === undefined) return undefined;
  let days: number;
  if (justTime) {
    days = Math.floor((nowMs + offsetOf(nowMs, true)) / 86_400_000);
  } else {
    const y = year * (yearSign || 1);
    if (month < 1 || month > 12 || day < 1 || day > daysInMonth(y, month)) return undefined;
    days = daysFromCivil(y, month, day);
  }
  const localMs = days * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000;
  const ms = localMs - offsetOf(localMs, false) + Math.floor(micros / 1000);
  return Math.abs(ms) <= MICROS_LIMIT_MS ? ms : undefined;
}

/** Offset (ms) of a zone: at a UTC instant (`utcInstant`), or for a local date-time. */
type OffsetOf = (ms: number, utcInstant: boolean) => number;
const utc: OffsetOf = () => 0;
const fixed =
  (offsetMs: number): OffsetOf =>
  () =>
    offsetMs;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
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

// java.time.ZoneId.SHORT_IDS, which Spark's getZoneId passes to ZoneId.of.
const SHORT_IDS: Readonly<Record<string, string>> = {
  ACT: "Australia/Darwin",
  AET: "Australia/Sydney",
  AGT: "America/Argentina/Buenos_Aires",
  ART: "Africa/Cairo",
  AST: "America/Anchorage",
  BET: "America/Sao_Paulo",
  BST: "Asia/Dhaka",
  CAT: "Africa/Harare",
  CNT: "America/St_Johns",
  CST: "America/Chicago",
  CTT: "Asia/Shanghai",
  EAT: "Africa/Addis_Ababa",
  ECT: "Europe/Paris",
  IET: "America/Indiana/Indianapolis",
  IST: "Asia/Kolkata",
  JST: "Asia/Tokyo",
  MIT: "Pacific/Apia",
  NET: "Asia/Yerevan",
  NST: "Pacific/Auckland",
  PLT: "Asia/Karachi",
  PNT: "America/Phoenix",
  PRT: "America/Puerto_Rico",
  PST: "America/Los_Angeles",
  SST: "Pacific/Guadalcanal",
  VST: "Asia/Ho_Chi_Minh",
  EST: "-05:00",
  MST: "-07:00",
  HST: "-10:00",
};

const zones = new Map<string, OffsetOf | undefined>();

/** Spark's `getZoneId` (`ZoneId.of` after widening `+h:mm` and `+hh:m`), memoised. */
function zoneOffset(id: string): OffsetOf | undefined {
  if (zones.has(id)) return zones.get(id);
  const normalised = id.replace(/([+-])(\d):/, "$10$2:").replace(/([+-])(\d\d):(\d)$/, "$1$2:0$3");
  const resolved = resolveZone(SHORT_IDS[normalised] ?? normalised);
  if (zones.size < 1000) zones.set(id, resolved);
  return resolved;
}

function resolveZone(id: string): OffsetOf | undefined {
  if (id === "Z" || id === "UTC" || id === "GMT" || id === "UT") return utc;
  if (id.startsWith("+") || id.startsWith("-")) {
    const offset = offsetMs(id);
    return offset === undefined ? undefined : fixed(offset);
  }
  const prefixed = /^(UTC|GMT|UT)([+-].*)$/.exec(id);
  if (prefixed) {
    const offset = offsetMs(prefixed[2] as string);
    return offset === undefined ? undefined : fixed(offset);
  }
  if (!/^[A-Za-z][A-Za-z0-9~/._+-]+$/.test(id)) return undefined;
  return regionZone(id);
}

/** `ZoneOffset.of`: ±h, ±hh, ±hh:mm, ±hhmm, ±hh:mm:ss, ±hhmmss, at most 18 hours. */
function offsetMs(text: string): number | undefined {
  const m = /^([+-])(\d{1,2})(?:(:?)(\d{2})(?:\3(\d{2}))?)?$/.exec(text);
  if (!m || (m[2]?.length === 1 && m[4] !== undefined)) return undefined;
  const [hours, minutes, seconds] = [m[2], m[4], m[5]].map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
  ];
  if (hours > 18 || minutes > 59 || seconds > 59) return undefined;
  const total = (hours * 3600 + minutes * 60 + seconds) * 1000;
  if (total > 18 * 3_600_000) return undefined;
  return m[1] === "-" ? -total : total;
}

/**
 * A tz-database region through Intl (ICU's copy of the database; Java has its own, so the two
 * can differ on rare historical offsets). Java's lookup is case-sensitive; Intl's is not.
 */
function regionZone(id: string): OffsetOf | undefined {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: id,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    return undefined;
  }
  const canonical = format.resolvedOptions().timeZone;
  if (canonical !== id && canonical.toLowerCase() === id.toLowerCase()) return undefined;
  const at = (utcMs: number): number => {
    const parts: Record<string, string> = {};
    for (const part of format.formatToParts(utcMs)) parts[part.type] = part.value;
    const yearOfEra = Number(parts.year);
    const year = parts.era === "BC" ? 1 - yearOfEra : yearOfEra;
    const local =
      daysFromCivil(year, Number(parts.month), Number(parts.day)) * 86_400_000 +
      ((Number(parts.hour) * 60 + Number(parts.minute)) * 60 + Number(parts.second)) * 1000;
    return local - (utcMs - (((utcMs % 1000) + 1000) % 1000));
  };
  return (ms, utcInstant) => {
    if (utcInstant) return at(ms);
    // A local date-time: the offsets in force around it. In an overlap java.time takes the
    // earlier instant (the larger offset); in a gap, the offset before it (the time moves on).
    const before = at(ms - 86_400_000);
    const after = at(ms + 86_400_000);
    const valid = [before, after].filter((o) => at(ms - o) === o).sort((a, b) => b - a);
    return valid[0] ?? before;
  };
}
