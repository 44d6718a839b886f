import { javaDouble, jsonText } from "./spark-json.ts";

/**
 * A JSON scanner with the grammar of the Jackson parser Spark 3.5 builds for `from_json` with
 * default options (JSONOptions): single-quoted strings and names allowed (and `\'` in them),
 * `NaN`, `Infinity`, `+Infinity`, `-Infinity`, `+INF`, `-INF` as numbers; no comments, no
 * unquoted names, no leading zeros, no trailing commas, no raw control characters in strings;
 * whitespace is space, tab, CR, LF only; numbers of at most 1,000 characters; nesting at most
 * 1,000 deep. Each rule was checked against Spark itself (test/spark).
 */
export class JsonSyntaxError extends Error {
  override readonly name = "JsonSyntaxError";
}

/** What a value token is. */
export const TOKEN = {
  string: 0,
  int: 1,
  float: 2,
  true: 3,
  false: 4,
  null: 5,
  object: 6,
  array: 7,
} as const;
export type Token = (typeof TOKEN)[keyof typeof TOKEN];

const MAX_DEPTH = 1000;
const MAX_NUMBER_CHARS = 1000;
const NON_NUMERIC: Readonly<Record<string, number>> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  "+Infinity": Number.POSITIVE_INFINITY,
  "+INF": Number.POSITIVE_INFINITY,
  "-Infinity": Number.NEGATIVE_INFINITY,
  "-INF": Number.NEGATIVE_INFINITY,
};

export class JsonScanner {
  private text = "";
  /** Position of the next character to read. */
  pos = 0;
  private depth = 0;
  /** The last string token's value, or the last number token's text. */
  value = "";

  reset(text: string): void {
    this.text = text;
    this.pos = 0;
    this.depth = 0;
  }

  fail(problem: string): never {
    throw new JsonSyntaxError(`${problem} at character ${this.pos}`);
  }

  /** Skips whitespace; returns the next character's code, or -1 at the end. */
  peek(): number {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 32 || c === 10 || c === 13 || c === 9) pos++;
      else {
        this.pos = pos;
        return Number.isNaN(c) ? -1 : c;
      }
    }
  }

  /** Consumes `char` (after whitespace) or fails. */
  expect(char: number, what: string): void {
    if (this.peek() !== char) this.fail(`expected ${what}`);
    this.pos++;
  }

  /** Enters an object or array just read; Jackson refuses nesting deeper than 1,000. */
  enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
  }

  leave(): void {
    this.depth--;
  }

  /**
   * Reads the start of a value: scalars whole (their value or text in {@link value}); for an
   * object or array only the opening bracket, the caller then skips or copies it.
   */
  token(): Token {
    const c = this.peek();
    const text = this.text;
    switch (c) {
      case 34: // "
      case 39: // '
        this.value = this.string(c);
        return TOKEN.string;
      case 123: // {
        this.pos++;
        this.enter();
        return TOKEN.object;
      case 91: // [
        this.pos++;
        this.enter();
        return TOKEN.array;
      case 116:
        return this.literal("true", TOKEN.true);
      case 102:
        return this.literal("false", TOKEN.false);
      case 110:
        return this.literal("null", TOKEN.null);
      case 78:
        return this.nonNumeric("NaN");
      case 73:
        return this.nonNumeric("Infinity");
      case 43: // +: only +INF and +Infinity
        return text.startsWith("+Infinity", this.pos)
          ? this.nonNumeric("+Infinity")
          : this.nonNumeric("+INF");
      case 45: // -
        if (text.charCodeAt(this.pos + 1) === 73)
          return text.startsWith("-Infinity", this.pos)
            ? this.nonNumeric("-Infinity")
            : this.nonNumeric("-INF");
        return this.number();
      default:
        if (c >= 48 && c <= 57) return this.number();
        return this.fail(c === -1 ? "unexpected end of input" : "unexpected character");
    }
  }

  private literal(word: string, token: Token): Token {
    if (!this.text.startsWith(word, this.pos)) this.fail("unrecognized token");
    this.pos += word.length;
    if (isIdentifierPart(this.text.charCodeAt(this.pos))) this.fail("unrecognized token");
    return token;
  }

  private nonNumeric(word: string): Token {
    this.literal(word, TOKEN.float);
    this.value = word;
    return TOKEN.float;
  }

  /** `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`, its text in {@link value}. */
  private number(): Token {
    const text = this.text;
    const start = this.pos;
    let pos = start;
    if (text.charCodeAt(pos) === 45) pos++;
    const intStart = pos;
    while (isDigit(text.charCodeAt(pos))) pos++;
    const intDigits = pos - intStart;
    if (intDigits === 0) this.failAt(pos, "no digit in number");
    if (intDigits > 1 && text.charCodeAt(intStart) === 48) this.failAt(pos, "leading zero");
    let float = false;
    if (text.charCodeAt(pos) === 46) {
      float = true;
      const fractionStart = ++pos;
      while (isDigit(text.charCodeAt(pos))) pos++;
      if (pos === fractionStart) this.failAt(pos, "no digit after the decimal point");
    }
    const e = text.charCodeAt(pos);
    if (e === 101 || e === 69) {
      float = true;
      pos++;
      const sign = text.charCodeAt(pos);
      if (sign === 43 || sign === 45) pos++;
      const exponentStart = pos;
      while (isDigit(text.charCodeAt(pos))) pos++;
      if (pos === exponentStart) this.failAt(pos, "no digit in exponent");
    }
    if ((float ? pos - start : intDigits) > MAX_NUMBER_CHARS)
      this.failAt(pos, `number longer than ${MAX_NUMBER_CHARS} characters`);
    this.pos = pos;
    this.value = text.slice(start, pos);
    return float ? TOKEN.float : TOKEN.int;
  }

  private failAt(pos: number, problem: string): never {
    this.pos = pos;
    return this.fail(problem);
  }

  /** A quoted string (the opening quote at `pos`), escapes decoded. */
  string(quote: number): string {
    const text = this.text;
    let pos = this.pos + 1;
    let start = pos;
    let out = "";
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === quote) {
        this.pos = pos + 1;
        return out + text.slice(start, pos);
      }
      if (c === 92) {
        out += text.slice(start, pos);
        pos = this.escape(pos + 1);
        out += this.value;
        start = pos;
      } else if (c < 32 || Number.isNaN(c)) {
        this.failAt(pos, Number.isNaN(c) ? "unterminated string" : "control character in string");
      } else pos++;
    }
  }

  private escape(pos: number): number {
    const c = this.text.charCodeAt(pos);
    switch (c) {
      case 34:
      case 92:
      case 47:
      case 39: // \' : Jackson accepts it when single quotes are allowed
        this.value = String.fromCharCode(c);
        return pos + 1;
      case 98:
        this.value = "\b";
        return pos + 1;
      case 102:
        this.value = "\f";
        return pos + 1;
      case 110:
        this.value = "\n";
        return pos + 1;
      case 114:
        this.value = "\r";
        return pos + 1;
      case 116:
        this.value = "\t";
        return pos + 1;
      case 117: {
        const hex = this.text.slice(pos + 1, pos + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.failAt(pos, "bad \\u escape");
        this.value = String.fromCharCode(Number.parseInt(hex, 16));
        return pos + 5;
      }
      default:
        return this.failAt(pos, "unrecognized escape");
    }
  }

  /** After `{`: the next field name, or undefined at `}`. `first`: no comma expected before it. */
  fieldName(first: boolean): string | undefined {
    let c = this.peek();
    if (c === 125) {
      this.pos++;
      this.leave();
      return undefined;
    }
    if (!first) {
      if (c !== 44) this.fail("expected ',' or '}'");
      this.pos++;
      c = this.peek();
    }
    if (c !== 34 && c !== 39) this.fail("expected a quoted field name");
    const name = this.string(c);
    this.expect(58, "':'");
    return name;
  }

  /** After `[`: whether another element follows (consuming its comma) or the array ended. */
  nextElement(first: boolean): boolean {
    const c = this.peek();
    if (c === 93) {
      this.pos++;
      this.leave();
      return false;
    }
    if (!first) {
      if (c !== 44) this.fail("expected ',' or ']'");
      this.pos++;
    }
    return true;
  }

  /** Reads the rest of a structure whose opening bracket was read, checking its syntax. */
  skip(token: Token): void {
    if (token === TOKEN.object) {
      for (let first = true; this.fieldName(first) !== undefined; first = false)
        this.skip(this.token());
    } else if (token === TOKEN.array) {
      for (let first = true; this.nextElement(first); first = false) this.skip(this.token());
    }
  }

  /**
   * The JSON text Jackson's UTF-8 generator writes for a value read with `copyCurrentStructure`
   * (what Spark keeps for a non-string token in a STRING field): compact, numbers normalised
   * (`-0` → `0`, floats as Java prints doubles, NaN and infinities quoted), strings re-escaped.
   */
  copy(token: Token): string {
    switch (token) {
      case TOKEN.string:
        return jsonText(this.value, true);
      case TOKEN.int:
        return canonicalInteger(this.value);
      case TOKEN.float:
        return javaDouble(floatValue(this.value));
      case TOKEN.true:
        return "true";
      case TOKEN.false:
        return "false";
      case TOKEN.null:
        return "null";
      case TOKEN.object: {
        let out = "{";
        for (let first = true, name = this.fieldName(true); name !== undefined; first = false) {
          out += `${first ? "" : ","}${jsonText(name, true)}:${this.copy(this.token())}`;
          name = this.fieldName(false);
        }
        return `${out}}`;
      }
      default: {
        let out = "[";
        for (let first = true; this.nextElement(first); first = false)
          out += `${first ? "" : ","}${this.copy(this.token())}`;
        return `${out}]`;
      }
    }
  }
}

/** A float token's value: its text parsed, or one of the non-numeric words. */
export function floatValue(text: string): number {
  const c = text.charCodeAt(text.length - 1); // a digit ends every number; a letter each word
  return c >= 48 && c <= 57 ? Number(text) : (NON_NUMERIC[text] ?? Number.NaN);
}

/** An integer token as Jackson prints it: no sign on zero, every digit kept. */
export function canonicalInteger(text: string): string {
  if (text.length < 16) {
    const n = Number(text);
    return n === 0 ? "0" : text;
  }
  return BigInt(text).toString();
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

// Jackson refuses a literal glued to a name-like character (`truex`, `NaN1`).
function isIdentifierPart(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36
  );
}
