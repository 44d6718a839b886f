/**
 * Decodes a record value the way Spark's `from_json` sees it: `CAST(value AS STRING)` keeps the
 * bytes, then Jackson reads them through Java's `InputStreamReader(UTF-8)`, which replaces each
 * malformed sequence with U+FFFD instead of failing, and keeps a byte-order mark as U+FEFF (so a
 * value starting with one is not JSON to Jackson). Valid UTF-8, nearly every value, takes the
 * platform decoder.
 */
export function decodeUtf8LikeJava(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    return decodeWithReplacement(bytes);
  }
}

// ignoreBOM: true keeps a leading U+FEFF in the text, as Java's decoder does.
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const isContinuation = (b: number | undefined) => b !== undefined && (b & 0xc0) === 0x80;

/**
 * Java's UTF-8 decoder with REPLACE: how many bytes one U+FFFD stands for follows its rules
 * (measured against Spark: an encoded surrogate `ED A0 80` is one U+FFFD, where the WHATWG
 * decoder writes three; `C0 AF` is two).
 */
function decodeWithReplacement(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b1 = bytes[i] as number;
    if (b1 < 0x80) {
      out += String.fromCharCode(b1);
      i++;
    } else if (b1 >= 0xc2 && b1 <= 0xdf) {
      if (isContinuation(bytes[i + 1])) {
        out += String.fromCharCode(((b1 & 0x1f) << 6) | ((bytes[i + 1] as number) & 0x3f));
        i += 2;
      } else {
        out += "\ufffd";
        i++;
      }
    } else if (b1 >= 0xe0 && b1 <= 0xef) {
      i += threeBytes(bytes, i, (text) => {
        out += text;
      });
    } else if (b1 >= 0xf0 && b1 <= 0xf4) {
      i += fourBytes(bytes, i, (text) => {
        out += text;
      });
    } else {
      out += "\ufffd"; // C0, C1, F5-FF and stray continuation bytes: one each
      i++;
    }
  }
  return out;
}

function threeBytes(bytes: Uint8Array, i: number, emit: (text: string) => void): number {
  const b1 = bytes[i] as number;
  const b2 = bytes[i + 1];
  const b3 = bytes[i + 2];
  const overlong = b1 === 0xe0 && b2 !== undefined && (b2 & 0xe0) === 0x80;
  if (!overlong && isContinuation(b2) && isContinuation(b3)) {
    const c = ((b1 & 0x0f) << 12) | (((b2 as number) & 0x3f) << 6) | ((b3 as number) & 0x3f);
    // An encoded surrogate is malformed as a whole: one replacement for its three bytes.
    emit(c >= 0xd800 && c <= 0xdfff ? "\ufffd" : String.fromCharCode(c));
    return 3;
  }
  emit("\ufffd");
  return overlong || !isContinuation(b2) ? 1 : 2;
}

function fourBytes(bytes: Uint8Array, i: number, emit: (text: string) => void): number {
  const b1 = bytes[i] as number;
  const b2 = bytes[i + 1];
  const badSecond =
    b2 === undefined ||
    !isContinuation(b2) ||
    (b1 === 0xf0 && b2 < 0x90) ||
    (b1 === 0xf4 && b2 > 0x8f);
  if (badSecond) {
    emit("\ufffd");
    return 1;
  }
  if (!isContinuation(bytes[i + 2])) {
    emit("\ufffd");
    return 2;
  }
  if (!isContinuation(bytes[i + 3])) {
    emit("\ufffd");
    return 3;
  }
  const c =
    ((b1 & 0x07) << 18) |
    ((b2 & 0x3f) << 12) |
    (((bytes[i + 2] as number) & 0x3f) << 6) |
    ((bytes[i + 3] as number) & 0x3f);
  emit(String.fromCodePoint(c));
  return 4;
}
