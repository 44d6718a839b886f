import type { AggregateFunction, FieldType } from "../../shared/pipeline/definition.ts";

/**
 * The differential corpus: record values that Spark's `from_json` and our parser both read, under
 * every schema below, and aggregation inputs whose `to_json` output both write. Categories: every
 * JSON token in every field type, Spark's parser extensions, timestamps in every form Spark's cast
 * knows (and some it refuses), byte-order marks, whitespace, trailing content, duplicate keys,
 * malformed JSON, invalid UTF-8, and whole records of the default pipeline.
 */
export interface ParityRecord {
  readonly name: string;
  readonly value: Buffer;
}

export type Schema = ReadonlyArray<readonly [string, FieldType]>;

export interface ParityAggregation {
  readonly name: string;
  readonly schema: Schema;
  readonly key: string;
  readonly aggs: ReadonlyArray<readonly [AggregateFunction, string | null, string]>;
  /** Event JSON texts; every one has a non-null key and event time. */
  readonly events: readonly string[];
}

const TYPES: readonly FieldType[] = ["string", "double", "long", "int", "boolean", "timestamp"];

/** Each record is parsed under each of these. */
export const SCHEMAS: Readonly<Record<string, Schema>> = {
  ...Object.fromEntries(
    TYPES.map((type) => [
      type,
      [
        ["v", type],
        ["w", "string"],
      ] as const,
    ]),
  ),
  ts: [["t", "timestamp"]],
  pipeline: [
    ["user", "string"],
    ["action", "string"],
    ["amount", "double"],
    ["event_time", "timestamp"],
  ],
  all: [
    ["s", "string"],
    ["d", "double"],
    ["l", "long"],
    ["i", "int"],
    ["b", "boolean"],
    ["t", "timestamp"],
  ],
};

/** JSON tokens, each read as `{"v": <token>, "w": "after"}` under every type. */
const TOKENS = [
  '"abc"',
  '""',
  '" 1"',
  '"1.5"',
  '"true"',
  '"NaN"',
  '"Infinity"',
  '"+Infinity"',
  '"+INF"',
  '"-INF"',
  '"-Infinity"',
  '"nan"',
  '"infinity"',
  '"  NaN"',
  '"\\u00e9\\u0000\\n"',
  '"\\ud800"',
  '"\\ud83d\\ude00"',
  '"q\\"q\\\\ \\/ \\b\\f\\n\\r\\t\\u001f\\u007f\\u2028"',
  "'single'",
  "'it\\'s'",
  '"it\\\'s"',
  "123",
  "-0",
  "0",
  "-0.0",
  "1.50",
  "1e2",
  "1E+2",
  "-1e-2",
  "1e01",
  "0.1e1",
  "1E400",
  "-1E400",
  "1e-400",
  "0.1",
  "100.0",
  "1e7",
  "1.0E-4",
  "1.7976931348623157E308",
  "2e23", // Java 17 prints 1.9999999999999998E23
  "4.9E-324",
  "12345678901234567890",
  "9223372036854775807",
  "9223372036854775808",
  "-9223372036854775808",
  "-9223372036854775809",
  "9007199254740993",
  "2147483647",
  "2147483648",
  "-2147483648",
  "-2147483649",
  "1735732800",
  "1735732800.5",
  "-62135596801",
  "9223372036855",
  "17357328000000",
  "true",
  "false",
  "null",
  "NaN",
  "Infinity",
  "-Infinity",
  "+Infinity",
  "+INF",
  "-INF",
  "INF",
  "+NaN",
  "[]",
  "{}",
  '[1, 2.50, "q", NaN, -0, 1E400, 12345678901234567890, null, true]',
  '{"a": 1, "b": [true, null, "x\\n\\u0001/\\u00e9\\ud83d\\ude00"]}',
  "{'a': 'b'}",
  '[{"a":{"b":1}}]',
  "01",
  ".5",
  "1.",
  "+1",
  "1e",
  "0x10",
  "tru",
  "nul",
  "1abc",
];

/** Timestamp strings, each read as `{"t": "<text>"}` (and as `v` above when a token). */
const TIMESTAMPS = [
  "2025-01-01T12:00:00Z",
  "2025-01-01T12:00:00.000Z",
  "2025-06-30T23:59:59.999Z",
  "2025-01-01",
  "2025-01",
  "2025",
  "2025-1-1 1:2:3",
  "2025-01-01 12:00:00",
  "2025-01-01T12:00",
  "2025-01-01T12",
  "2025-01-01T",
  "2025-01-01 ",
  "  2025-01-01T12:00:00Z  ",
  "2025-01-01T12:00:00.5Z",
  "2025-01-01T12:00:00.123456Z",
  "2025-01-01T12:00:00.123456789Z",
  "2025-01-01T12:00:00.Z",
  "2025-01-01T12:00:00+01:00",
  "2025-01-01T12:00:00+01",
  "2025-01-01T12:00:00+0130",
  "2025-01-01T12:00:00-08:00:30",
  "2025-01-01T12:00:00+18:00",
  "2025-01-01T12:00:00+19:00",
  "2025-01-01T12:00:00+1:00",
  "2025-01-01T12:00:00+01:0",
  "2025-01-01T12:00:00 +01:00",
  "2025-01-01T12:00:00 Z",
  "2025-01-01T12:00:00UTC",
  "2025-01-01T12:00:00UT",
  "2025-01-01T12:00:00GMT",
  "2025-01-01T12:00:00 GMT",
  "2025-01-01T12:00:00GMT+01:00",
  "2025-01-01T12:00:00UTC+01:00",
  "2025-01-01T12:00:00UT+1",
  "2025-01-01GMT",
  "2025-01-01T12:00:00Europe/Paris",
  "2025-07-01T12:00:00 Europe/Paris",
  "2025-03-30T02:30:00 Europe/Paris",
  "2025-10-26T02:30:00 Europe/Paris",
  "2025-01-01T12:00:00America/New_York",
  "2025-01-01T12:00:00Asia/Kolkata",
  "1900-01-01T00:00:00 Europe/Amsterdam",
  "2025-01-01T12:00:00CET",
  "2025-01-01T12:00:00PST",
  "2025-01-01T12:00:00EST",
  "2025-01-01T12:00:00Zulu",
  "2025-01-01T12:00:00Etc/GMT+5",
  "2025-01-01T12:00:00europe/paris",
  "2025-01-01T12:00:00Mars/Olympus",
  "T12:00:00",
  "12:00:00",
  "12:00",
  "2024-02-29T00:00:00",
  "2025-02-29",
  "2025-04-31",
  "2025-13-01",
  "2025-01-01T24:00:00",
  "2025-01-01T12:60:00",
  "2025-01-01T12:00:60",
  "+10000-01-01",
  "10000-01-01",
  "-0001-01-01",
  "0001-01-01",
  "1969-12-31T23:59:59.999Z",
  "1582-10-10",
  "2025-01-01T12:00Z",
  "2025-01-01Z",
  "2025/01/01",
  "20250101",
  "2025-01-01T12:00:00z",
  "2025-01-01t12:00:00",
  "2025-01-01 T12:00:00",
  "2025-01-01T12:00:00,5Z",
  "01/02/2025 12:00",
  "Wed, 01 Jan 2025 12:00:00 GMT",
  "yesterday",
  " ",
];

const T = "2025-01-01T12:00:00Z";
const text = (s: string) => Buffer.from(s, "utf8");
const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? text(p) : Buffer.from(p))));

/** Whole records: structure, encodings, duplicates, the default pipeline's shapes. */
const RAW: ReadonlyArray<readonly [string, Buffer]> = [
  ["a byte-order mark", bytes([0xef, 0xbb, 0xbf], '{"v":"bom","user":"u"}')],
  ["whitespace around", text(' \n\t{ "v" : "ws" , "w" : 1 } \r\n')],
  ["trailing content", text('{"v":"a"} trailing')],
  ["a second object", text('{"v":"a"} {"v":"b"}')],
  ["an extra closing brace", text('{"v":"a"}}')],
  ["a NUL after the object", text('{"v":1}\u0000')],
  ["a NUL before it", text('\u0000{"v":1}')],
  ["a form feed as whitespace", text('{\f"v":1}')],
  ["a no-break space as whitespace", text('{"v":\u00a01}')],
  ["unterminated", text('{"v":"a"')],
  ["unterminated after a comma", text('{"v":"a","w":"b",')],
  ["a trailing comma", text('{"v":"a",}')],
  ["a trailing comma in an array", text('{"v":1,"w":[1,2,]}')],
  ["a missing value", text('{"v":,"w":1}')],
  ["a comment", text('{"v":"a" /* c */}')],
  ["an unquoted name", text('{v:"a"}')],
  ["a raw tab in a string", text('{"v":"a\tb","w":"after"}')],
  ["a raw control character", text('{"v":"a\u0001"}')],
  ["a bad escape", text('{"v":"a\\qb","w":"after"}')],
  ["a bad escape in another field", text('{"x":"a\\qb","w":"after"}')],
  ["a short \\u escape", text('{"v":"\\u00","w":"after"}')],
  ["a bad token in another field", text('{"v":1,"w":tru}')],
  ["duplicates: the last wins", text('{"v":1,"v":2}')],
  ["duplicates: a refused one keeps the earlier", text('{"v":1,"v":"x"}')],
  ["duplicates: a later one converts", text('{"v":"x","v":1}')],
  ["duplicates: null overwrites", text('{"v":1,"v":null}')],
  ["duplicates: an array then a number", text('{"v":[1,2],"v":3}')],
  ["duplicates nested", text('{"v":1,"w":{"a":1,"a":2}}')],
  ["an empty name", text('{"":1,"v":2}')],
  ["a case-different name", text('{"V":1,"v":2}')],
  ["an empty object", text("{}")],
  ["only other fields", text('{"x":1}')],
  ["an array of objects", text('[{"v":"a"}]')],
  ["a string", text('"str"')],
  ["a number", text("42")],
  ["null", text("null")],
  ["an empty value", Buffer.alloc(0)],
  ["whitespace only", text("   ")],
  ["nested 999 deep (allowed)", text(`{"v":${"[".repeat(999)}${"]".repeat(999)},"w":"after"}`)],
  ["nested 1,000 deep (refused)", text(`{"v":${"[".repeat(1000)}${"]".repeat(1000)},"w":"after"}`)],
  ["a 999-digit number", text(`{"v":1${"1".repeat(998)},"w":"after"}`)],
  ["a 1,001-digit number", text(`{"v":1${"1".repeat(1000)},"w":"after"}`)],
  ["0xff", bytes('{"v":"', [0xff], '","w":"after"}')],
  ["an overlong slash", bytes('{"v":"', [0xc0, 0xaf], '","w":"after"}')],
  ["an overlong 3-byte NUL", bytes('{"v":"', [0xe0, 0x80, 0x80], '","w":"after"}')],
  ["an encoded surrogate", bytes('{"v":"', [0xed, 0xa0, 0x80], '","w":"after"}')],
  ["a CESU-8 pair", bytes('{"v":"', [0xed, 0xa0, 0xbd, 0xed, 0xb2, 0xa9], '","w":"after"}')],
  ["a truncated 4-byte character", bytes('{"v":"', [0xf0, 0x90, 0x80], '","w":"after"}')],
  ["a truncated 3-byte character", bytes('{"v":"', [0xe2, 0x82], '","w":"after"}')],
  ["F5 and a continuation", bytes('{"v":"', [0xf5, 0x80], '","w":"after"}')],
  ["a broken 3-byte character", bytes('{"v":"', [0xe2, 0x28, 0xa1], '","w":"after"}')],
  ["a broken 4-byte character", bytes('{"v":"', [0xf0, 0x28, 0x8c, 0x28], '","w":"after"}')],
  ["FE FF", bytes('{"v":"', [0xfe, 0xff], '","w":"after"}')],
  ["Latin-1", bytes('{"v":"caf', [0xe9], '","w":"after"}')],
  ["a valid emoji", bytes('{"v":"', [0xf0, 0x9f, 0x98, 0x80], '","w":"after"}')],
  [
    "the default record",
    text(JSON.stringify({ user: "u1", action: "buy", amount: 12.5, event_time: T })),
  ],
  ["amount as a string", text(JSON.stringify({ user: "u1", amount: "12.5", event_time: T }))],
  ["amount NaN", text(`{"user":"u1","amount":NaN,"event_time":"${T}"}`)],
  ["amount 'Infinity'", text(`{"user":"u1","amount":"Infinity","event_time":"${T}"}`)],
  ["user a number", text(`{"user":7,"amount":1,"event_time":"${T}"}`)],
  ["user an object", text(`{"user":{"id":1},"amount":1,"event_time":"${T}"}`)],
  ["event_time epoch seconds", text('{"user":"u1","amount":1,"event_time":1735732800}')],
  ["event_time epoch millis", text('{"user":"u1","amount":1,"event_time":1735732800000}')],
  ["event_time a boolean", text('{"user":"u1","amount":1,"event_time":true}')],
  ["everything wrong", text('{"user":null,"amount":"x","event_time":"yesterday"}')],
  ["single quotes everywhere", text("{'user':'u1','amount':1.5,'event_time':'2025-01-01'}")],
  [
    "all types at once",
    text('{"s":"x","d":1.5,"l":9007199254740991,"i":-7,"b":false,"t":"2025-01-01 12:00"}'),
  ],
  ["all types wrong", text('{"s":[1],"d":"1","l":1.5,"i":"1","b":1,"t":1.5}')],
];

export function parityRecords(): ParityRecord[] {
  return [
    ...TOKENS.map((token) => ({
      name: `token ${token.length > 40 ? `${token.slice(0, 40)}…` : token}`,
      value: text(`{"v":${token},"w":"after","s":${token},"d":${token},"t":${token}}`),
    })),
    ...TIMESTAMPS.map((ts) => ({
      name: `timestamp ${JSON.stringify(ts)}`,
      value: text(JSON.stringify({ t: ts, v: ts, event_time: ts })),
    })),
    ...RAW.map(([name, value]) => ({ name, value })),
  ];
}

const event = (fields: Record<string, unknown>, raw = "") =>
  `{${[...Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`), raw]
    .filter(Boolean)
    .join(",")}}`;

/** Aggregations whose `to_json` rows must be byte-identical. */
export const AGGREGATIONS: readonly ParityAggregation[] = [
  {
    name: "default pipeline's sum, with doubles Java prints in every notation",
    schema: SCHEMAS.pipeline as Schema,
    key: "user",
    aggs: [["sum", "amount", "total_spent"]],
    events: [
      event({ user: "u1", amount: 12.5, event_time: T }),
      event({ user: "u1", amount: 0.5, event_time: "2025-01-01T12:04:59.999Z" }),
      event({ user: "u1", amount: 3, event_time: "2025-01-01T12:05:00Z" }),
      event({ user: "u2", amount: 1e7, event_time: T }),
      event({ user: "u3", amount: 1e-5, event_time: T }),
      event({ user: "u4", amount: 0.1, event_time: T }),
      event({ user: "u4", amount: 0.2, event_time: T }),
      event({ user: "u5", amount: 123456789.125, event_time: T }),
      event({ user: "u6", amount: 0.001, event_time: T }),
      event({ user: "u7", amount: 1e20, event_time: T }),
      event({ user: "u8", amount: 2 ** 60, event_time: T }),
      event({ user: "u9", event_time: T }),
      event({ user: "u10", amount: "12.5", event_time: T }),
      event({ user: "u11", event_time: T }, '"amount":NaN'),
      event({ user: "u12", amount: "Infinity", event_time: T }),
      event({ user: "u12", amount: 1, event_time: T }),
      event({ user: "u13", amount: "-INF", event_time: T }),
      event({ user: "u14", event_time: T }, '"amount":-0.0'),
      event({ user: "u15", event_time: T }, '"amount":-0.0'),
      event({ user: "u15", event_time: T }, '"amount":-0.0'),
      event({ user: 'u16 \u001f é \u2028 / " \\ 😀', amount: 1, event_time: T }),
      event({ user: "u17", amount: 1, event_time: 1735732800 }),
      event({ user: "u18", amount: 2e23, event_time: T }), // Java 17: 1.9999999999999998E23
      event({ user: "u19", amount: 5e-324, event_time: T }), // Java 17: 4.9E-324
      event({ user: "u20", amount: 1e23, event_time: T }),
    ],
  },
  {
    name: "count, avg, min, max, sums of longs",
    schema: [
      ["user", "string"],
      ["amount", "double"],
      ["n", "long"],
      ["event_time", "timestamp"],
    ],
    key: "user",
    aggs: [
      ["count", null, "events"],
      ["avg", "amount", "avg_amount"],
      ["min", "amount", "min_amount"],
      ["max", "amount", "max_amount"],
      ["sum", "n", "total_n"],
      ["max", "n", "max_n"],
    ],
    events: [
      event({ user: "a", amount: 1.5, n: 1, event_time: T }),
      event({ user: "a", amount: 2.5, n: 2, event_time: T }),
      event({ user: "b", n: 5, event_time: T }),
      event({ user: "c", amount: "Infinity", event_time: T }),
      event({ user: "d", event_time: T }, '"amount":-0.0'),
      event({ user: "e", amount: -3, n: -9007199254740991, event_time: T }),
    ],
  },
  {
    // NaN is larger than every double in min/max; sum and avg follow IEEE 754; count counts NaN;
    // of two equal zeros min/max keep the first (Spark's least/greatest replace only on < / >).
    name: "NaN and infinities in every aggregation",
    schema: SCHEMAS.pipeline as Schema,
    key: "user",
    aggs: [
      ["count", null, "events"],
      ["count", "amount", "amounts"],
      ["sum", "amount", "total"],
      ["avg", "amount", "mean"],
      ["min", "amount", "least"],
      ["max", "amount", "most"],
    ],
    events: [
      event({ user: "nan-among", amount: 1, event_time: T }),
      event({ user: "nan-among", event_time: T }, '"amount":NaN'),
      event({ user: "nan-among", amount: 5, event_time: T }),
      event({ user: "nan-only", amount: "NaN", event_time: T }),
      event({ user: "infs", amount: "Infinity", event_time: T }),
      event({ user: "infs", amount: "-Infinity", event_time: T }),
      event({ user: "inf-and-one", event_time: T }, '"amount":Infinity'),
      event({ user: "inf-and-one", amount: 1, event_time: T }),
      event({ user: "ninf-nan", event_time: T }, '"amount":-Infinity'),
      event({ user: "ninf-nan", amount: "NaN", event_time: T }),
      event({ user: "ninf-nan", amount: 3, event_time: T }),
      event({ user: "ninf-nan", event_time: T }),
      event({ user: "zero-first", amount: 0, event_time: T }),
      event({ user: "zero-first", event_time: T }, '"amount":-0.0'),
      event({ user: "negzero-first", event_time: T }, '"amount":-0.0'),
      event({ user: "negzero-first", amount: 0, event_time: T }),
      event({ user: "nan-later-window", amount: 2, event_time: T }),
      event({ user: "nan-later-window", amount: "NaN", event_time: "2025-01-01T12:07:00Z" }),
    ],
  },
  {
    // CAST(k AS STRING) of a double: Java's Double.toString; −0.0 groups with 0.0 and a NaN
    // token with the string "NaN" (Spark normalizes grouping keys).
    name: "double group keys Spark casts to string",
    schema: [
      ["k", "double"],
      ["amount", "double"],
      ["event_time", "timestamp"],
    ],
    key: "k",
    aggs: [["sum", "amount", "total"]],
    events: [
      ...["1e7", "0.1", "1.0", "1", "-0.0", "0.0", "NaN", '"NaN"', '"Infinity"', '"-Infinity"'],
      ...["2e23", "123456789.125", "1e-5", "5e-324", "0.001", "9999999", "-3", "1e21"],
    ].map((k, i) => `{"k":${k},"amount":${i + 1},"event_time":"${T}"}`),
  },
  {
    name: "timestamp group keys Spark casts to string",
    schema: [
      ["k", "timestamp"],
      ["amount", "double"],
      ["event_time", "timestamp"],
    ],
    key: "k",
    aggs: [["sum", "amount", "total"]],
    events: [
      ...[
        '"2025-01-01T12:00:00.5Z"',
        '"2025-01-01T12:00:00.12Z"',
        '"2025-01-01 12:00:00"',
        "1735732800",
        '"1969-12-31T23:59:59.999Z"',
        '"2025-06-30T23:59:59.999+02:00"',
        "253402300800", // year 10000: Spark writes +10000
        '"0000-06-01T00:00:00Z"',
      ].map((k, i) => `{"k":${k},"amount":${i + 1},"event_time":"${T}"}`),
    ],
  },
  ...(
    [
      ["long", "5", "-9007199254740991"],
      ["int", "-7", "2147483647"],
      ["boolean", "true", "false"],
      ["double", "1.5", '"NaN"'],
      ["timestamp", '"2025-01-01T12:00:00.5Z"', "1735732800"],
    ] as const
  ).map(
    ([type, a, b]): ParityAggregation => ({
      name: `a ${type} group key`,
      schema: [
        ["k", type],
        ["amount", "double"],
        ["event_time", "timestamp"],
      ],
      key: "k",
      aggs: [["sum", "amount", "total"]],
      events: [
        `{"k":${a},"amount":1,"event_time":"${T}"}`,
        `{"k":${b},"amount":2,"event_time":"${T}"}`,
      ],
    }),
  ),
];
