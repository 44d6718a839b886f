import { describe, expect, it } from "vitest";
import {
  isoMs,
  javaDouble,
  jsonText,
  sparkJsonEncoder,
  sparkKeyText,
} from "../../../shared/codec/spark-json.ts";

// Bytes Spark 3.5's to_json(struct(*)) wrote for these results (measured with PySpark; the
// differential test in test/spark compares more of them with Spark on every run).
const window = {
  windowStartMs: Date.UTC(2025, 0, 1, 12),
  windowEndMs: Date.UTC(2025, 0, 1, 12, 5),
};
const W = '{"window":{"start":"2025-01-01T12:00:00.000Z","end":"2025-01-01T12:05:00.000Z"}';

describe("sparkJsonEncoder: Spark's to_json(struct(window, key, aggregates))", () => {
  it("writes the default pipeline's result exactly as Spark does", () => {
    const encode = sparkJsonEncoder("user", [{ name: "total_spent", double: true }]);
    expect(encode({ ...window, groupKey: "u1", values: { total_spent: 12.5 } })).toBe(
      `${W},"user":"u1","total_spent":12.5}`,
    );
  });

  it("leaves null fields out, quotes NaN and infinities, keeps −0.0 only where Spark can", () => {
    const encode = sparkJsonEncoder("user", [
      { name: "total", double: true, neverNegativeZero: true },
      { name: "c", double: false },
      { name: "mn", double: true },
      { name: "mx", double: true },
    ]);
    expect(
      encode({ ...window, groupKey: "u3", values: { total: null, c: 1, mn: null, mx: null } }),
    ).toBe(`${W},"user":"u3","c":1}`);
    expect(encode({ ...window, groupKey: "u4", values: { total: -0, c: 1, mn: -0, mx: -0 } })).toBe(
      `${W},"user":"u4","total":0.0,"c":1,"mn":-0.0,"mx":-0.0}`,
    );
    expect(
      encode({
        ...window,
        groupKey: "u7",
        values: { total: -Infinity, c: 2, mn: -Infinity, mx: Number.NaN },
      }),
    ).toBe(`${W},"user":"u7","total":"-Infinity","c":2,"mn":"-Infinity","mx":"NaN"}`);
  });

  it("escapes the key as Jackson does", () => {
    const encode = sparkJsonEncoder("user", [{ name: "t", double: true }]);
    expect(encode({ ...window, groupKey: 'u6\u001fé\u2028/"', values: { t: 1e-5 } })).toBe(
      `${W},"user":"u6\\u001Fé\u2028/\\"","t":1.0E-5}`,
    );
  });

  it.each([
    ["long", "5", '"k":5'],
    ["boolean", "true", '"k":true'],
    ["double", "1.5", '"k":1.5'],
    ["double", "NaN", '"k":"NaN"'],
    ["timestamp", String(Date.UTC(2025, 0, 1, 12, 0, 0, 500)), '"k":"2025-01-01T12:00:00.500Z"'],
  ] as const)("writes a %s group key as its type: %s", (type, key, json) => {
    const encode = sparkJsonEncoder("k", [{ name: "total", double: true }], type);
    expect(encode({ ...window, groupKey: key, values: { total: 1 } })).toBe(
      `${W},${json},"total":1.0}`,
    );
  });
});

// Spark 3.5.7's CAST(<group key> AS STRING), measured (test/spark/group-keys.test.ts compares
// more on every run). The key's text in state is String(value) of the parsed value.
describe("sparkKeyText: the output record's key, as Spark casts the group key to a string", () => {
  const ms = (iso: string) => String(Date.parse(iso));
  it.each([
    ["double", String(1e7), "1.0E7"],
    ["double", String(0.1), "0.1"],
    ["double", String(1), "1.0"],
    ["double", String(-0), "0.0"], // Spark groups −0.0 with 0.0
    ["double", "NaN", "NaN"],
    ["double", "-Infinity", "-Infinity"],
    ["double", String(2e23), "1.9999999999999998E23"],
    ["double", String(123456789.125), "1.23456789125E8"],
    ["long", "-9007199254740991", "-9007199254740991"],
    ["boolean", "true", "true"],
    ["string", "1.0", "1.0"],
    ["timestamp", ms("2025-01-01T12:00:00.500Z"), "2025-01-01 12:00:00.5"],
    ["timestamp", ms("2025-01-01T12:00:00.120Z"), "2025-01-01 12:00:00.12"],
    ["timestamp", ms("2025-01-01T12:00:00Z"), "2025-01-01 12:00:00"],
    ["timestamp", "-1", "1969-12-31 23:59:59.999"],
    ["timestamp", String(253402300800000), "+10000-01-01 00:00:00"],
    ["timestamp", String(-62167219201000), "-0001-12-31 23:59:59"],
  ] as const)("a %s key %s is %s", (type, key, text) => {
    expect(sparkKeyText(type)(key)).toBe(text);
  });

  it("writes years past 9999 and before 0 in JSON as Spark does", () => {
    expect(isoMs(253402300800000)).toBe("+10000-01-01T00:00:00.000Z");
    expect(isoMs(-62135596801000)).toBe("0000-12-31T23:59:59.000Z");
    expect(isoMs(-62167219201000)).toBe("-0001-12-31T23:59:59.000Z");
  });
});

describe("jsonText: strings as Jackson writes them", () => {
  it.each([
    ['q"q\\', false, '"q\\"q\\\\"'],
    ["\b\f\n\r\t\u0001\u007f", false, '"\\b\\f\\n\\r\\t\\u0001\u007f"'],
    ["😀", false, '"😀"'],
    ["😀", true, '"\\uD83D\\uDE00"'],
  ])("%j (surrogates escaped: %s)", (value, escapeSurrogates, json) => {
    expect(jsonText(value, escapeSurrogates)).toBe(json);
  });
});

describe("javaDouble: Java 17's Double.toString, as Spark's JSON writer prints doubles", () => {
  it.each([
    [12.5, "12.5"],
    [12, "12.0"],
    [0, "0.0"],
    [-0, "-0.0"],
    [-3, "-3.0"],
    [0.001, "0.001"],
    [0.0001, "1.0E-4"],
    [9_999_999, "9999999.0"],
    [10_000_000, "1.0E7"],
    [12_345_678.9, "1.23456789E7"],
    [0.30000000000000004, "0.30000000000000004"],
    [1e20, "1.0E20"],
    [Number("382580991181685888"), "3.8258099118168589E17"], // Java 17 keeps a digit JavaScript drops
    [Number("-64907606024695952"), "-6.4907606024695952E16"],
    [2 ** 53, "9.007199254740992E15"],
    [Number.NaN, '"NaN"'],
    [Number.NEGATIVE_INFINITY, '"-Infinity"'],
  ])("%d → %s", (value, expected) => {
    expect(javaDouble(value)).toBe(expected);
  });
});
