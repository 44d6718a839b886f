/**
 * Java 17's `Double.toString` (what Spark's JSON writer prints for a double), reimplemented from
 * the algorithm's description: JDK 17 still uses the pre-JDK-19 `FloatingDecimal` conversion,
 * which does not always print the shortest digits (2.0E23 comes out as 1.9999999999999998E23,
 * 5.0E-324 as 4.9E-324). Digits come from exact integer arithmetic (BigInt), reproducing the
 * 32- and 64-bit shortcuts' wrap-around where Java takes them. Checked against 200,000 values
 * printed by Java 17 (test/unit/codec/java-double.test.ts holds a sample).
 */
export function javaDoubleString(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const { digits, decExponent } = javaDigits(Math.abs(value));
  return (value < 0 ? "-" : "") + layout(digits, decExponent);
}

// Bit lengths of 5^i, as Java's table N_5_BITS (with 0 for 5^0).
const N_5_BITS = Array.from({ length: 27 }, (_, i) =>
  i === 0 ? 0 : (5n ** BigInt(i)).toString(2).length,
);
const view = new DataView(new ArrayBuffer(8));

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function trailingZeros(n: bigint): number {
  let count = 0;
  while ((n & 1n) === 0n) {
    n >>= 1n;
    count++;
  }
  return count;
}

/** floor(log10(2^p2)) for 1 < p2 < 64: digits an integer shift can never affect. */
function insignificantDigitsForPow2(p2: number): number {
  return p2 > 1 && p2 < 64 ? (2n ** BigInt(p2)).toString().length - 1 : 0;
}

function javaDigits(value: number): { digits: string; decExponent: number } {
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  let fractBits = bits & ((1n << 52n) - 1n);
  let binExp = Number((bits >> 52n) & 0x7ffn);
  let nSignificantBits: number;
  if (binExp === 0) {
    const leadingZeros = 64 - bitLength(fractBits);
    const shift = leadingZeros - 11;
    fractBits <<= BigInt(shift);
    binExp = 1 - shift;
    nSignificantBits = 64 - leadingZeros;
  } else {
    fractBits |= 1n << 52n;
    nSignificantBits = 53;
  }
  binExp -= 1023;

  const tailZeros = trailingZeros(fractBits);
  const nFractBits = 53 - tailZeros;
  const nTinyBits = Math.max(0, nFractBits - binExp - 1);
  if (
    binExp <= 62 &&
    binExp >= -21 &&
    nTinyBits < 27 &&
    nFractBits + (N_5_BITS[nTinyBits] as number) < 64 &&
    nTinyBits === 0
  ) {
    // A whole number in a long: its exact digits, less those one ulp cannot reach.
    const insignificant =
      binExp > nSignificantBits ? insignificantDigitsForPow2(binExp - nSignificantBits - 1) : 0;
    let lvalue = binExp >= 52 ? fractBits << BigInt(binExp - 52) : fractBits >> BigInt(52 - binExp);
    let decExponent = 0;
    if (insignificant !== 0) {
      const pow10 = 10n ** BigInt(insignificant);
      const residue = lvalue % pow10;
      lvalue /= pow10;
      decExponent += insignificant;
      if (residue >= pow10 >> 1n) lvalue++;
    }
    const text = lvalue.toString();
    const digits = text.replace(/0+$/, "");
    return { digits, decExponent: decExponent + text.length };
  }

  let decExp = estimateDecExp(fractBits, binExp);
  const B5 = Math.max(0, -decExp);
  let B2 = B5 + nTinyBits + binExp;
  const S5 = Math.max(0, decExp);
  let S2 = S5 + nTinyBits;
  const M5 = B5;
  let M2 = B2 - nSignificantBits;
  fractBits >>= BigInt(tailZeros);
  B2 -= nFractBits - 1;
  const common2 = Math.min(B2, S2);
  B2 -= common2;
  S2 -= common2;
  M2 -= common2;
  if (nFractBits === 1) M2 -= 1; // at a power of two the next lower value is half as far
  if (M2 < 0) {
    B2 -= M2;
    S2 -= M2;
    M2 = 0;
  }
  const bits5 = (i: number) => (i < N_5_BITS.length ? (N_5_BITS[i] as number) : i * 3);
  const Bbits = nFractBits + B2 + bits5(B5);
  const tenSbits = S2 + 1 + bits5(S5 + 1);

  let b = fractBits * 5n ** BigInt(B5) * 2n ** BigInt(B2);
  const s = 5n ** BigInt(S5) * 2n ** BigInt(S2);
  let m = 5n ** BigInt(M5) * 2n ** BigInt(M2);
  const tens = s * 10n;
  // Java does the same steps in int or long arithmetic when the numbers fit, where m (growing
  // tenfold each digit) and b + m may wrap around; the FDBigInteger path never wraps and stops
  // on b + m >= 10s instead of b + m > 10s.
  const width = Bbits < 64 && tenSbits < 64 ? (Bbits < 32 && tenSbits < 32 ? 32 : 64) : 0;
  const wrap = (n: bigint) => (width === 0 ? n : BigInt.asIntN(width, n));
  const step = (): number => {
    const q = Number(b / s);
    b = 10n * (b % s);
    m = wrap(m * 10n);
    return q;
  };
  const stops = (): [boolean, boolean] => {
    if (width === 0) return [b < m, b + m >= tens];
    if (m <= 0n) return [true, true];
    return [b < m, wrap(b + m) > tens];
  };
  let digits = "";
  let q = step();
  let [low, high] = width === 0 ? [b < m, b + m >= tens] : [b < m, wrap(b + m) > tens];
  if (q === 0 && !high) decExp--;
  else digits += String(q);
  // Java's E-form needs a digit after the point: never stop on the first digit there.
  if (decExp < -3 || decExp >= 8) low = high = false;
  while (!low && !high) {
    q = step();
    [low, high] = stops();
    digits += String(q);
  }
  let lowDigitDifference: bigint;
  if (width === 0) lowDigitDifference = high && low ? (b << 1n) - tens : 0n;
  else lowDigitDifference = wrap(wrap(b << 1n) - tens);
  let decExponent = decExp + 1;
  if (high) {
    const last = digits.charCodeAt(digits.length - 1) - 48;
    if (!low || lowDigitDifference > 0n || (lowDigitDifference === 0n && (last & 1) !== 0)) {
      const rounded = roundUp(digits, decExponent);
      digits = rounded.digits;
      decExponent = rounded.decExponent;
    }
  }
  return { digits, decExponent };
}

/** Adds one to the last digit, carrying; all nines become 1 and the exponent grows. */
function roundUp(digits: string, decExponent: number): { digits: string; decExponent: number } {
  let i = digits.length - 1;
  while (i > 0 && digits[i] === "9") i--;
  if (digits[i] === "9")
    return { digits: `1${"0".repeat(digits.length - 1)}`, decExponent: decExponent + 1 };
  return {
    digits: digits.slice(0, i) + String(Number(digits[i]) + 1) + "0".repeat(digits.length - 1 - i),
    decExponent,
  };
}

/** floor of Java's decimal-exponent estimate (same double arithmetic, same order). */
function estimateDecExp(fractBits: bigint, binExp: number): number {
  view.setBigUint64(0, (1023n << 52n) | (fractBits & ((1n << 52n) - 1n)));
  const d2 = view.getFloat64(0);
  const d = (d2 - 1.5) * 0.289529654 + 0.176091259 + binExp * 0.301029995663981;
  return Math.floor(d);
}

/** Java's layout: plain for 10^-3 <= x < 10^7 (a digit after the point), else d.dddE±n. */
function layout(digits: string, decExponent: number): string {
  const n = digits.length;
  if (decExponent > 0 && decExponent < 8) {
    if (n <= decExponent) return `${digits}${"0".repeat(decExponent - n)}.0`;
    return `${digits.slice(0, decExponent)}.${digits.slice(decExponent)}`;
  }
  if (decExponent <= 0 && decExponent > -3) return `0.${"0".repeat(-decExponent)}${digits}`;
  const exponent = decExponent - 1;
  return `${digits[0]}.${n > 1 ? digits.slice(1) : "0"}E${exponent}`;
}
