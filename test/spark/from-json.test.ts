import { describe, expect, inject, it } from "vitest";
import { compileRecordParser } from "../../shared/codec/parse-record.ts";
import type { Row } from "../../shared/pipeline/definition.ts";
import { parityRecords, SCHEMAS } from "./corpus.ts";

// Our parser against Spark 3.5.7's from_json (PERMISSIVE, default options, session time zone
// UTC), record by record and field by field, over the whole parity corpus under every schema.
const spark = inject("sparkParity");
const records = parityRecords();

type SparkValue = string | number | boolean | null;

/** Spark's value (as parity.py wrote it) in our row's terms: doubles, ms, numbers. */
function expected(type: string, value: SparkValue): Row[string] {
  if (value === null) return null;
  switch (type) {
    case "double": {
      const special: Record<string, number> = { nan: Number.NaN, inf: Infinity, "-inf": -Infinity };
      return special[value as string] ?? Number(value);
    }
    case "long":
      return Number(value);
    case "timestamp": {
      const micros = BigInt(value as string);
      return Number(micros / 1000n - (micros % 1000n < 0n ? 1n : 0n)); // rows keep ms, floored
    }
    default:
      return value as Row[string];
  }
}

/**
 * The difference we document instead of reproducing (README, "Semantics"): a LONG beyond ±2^53,
 * which a JavaScript number cannot hold exactly (we null it and count it as coerced).
 */
function knownDeviation(type: string, ours: Row[string], theirs: Row[string]): string | undefined {
  if (
    type === "long" &&
    ours === null &&
    typeof theirs === "number" &&
    !Number.isSafeInteger(theirs)
  )
    return "long beyond ±2^53";
  return undefined;
}

describe("from_json parity with PySpark", () => {
  it(`reads a corpus of at least 150 records (${records.length}) under ${Object.keys(SCHEMAS).length} schemas`, () => {
    expect(records.length).toBeGreaterThanOrEqual(150);
    expect(spark.rows).toHaveLength(records.length);
  });

  it("gives Spark's row for every record under every schema, field for field", () => {
    const mismatches: string[] = [];
    const deviations = new Map<string, number>();
    let fields = 0;
    let rowsAllNull = 0;
    for (const [schemaName, schema] of Object.entries(SCHEMAS)) {
      const parse = compileRecordParser(
        schema.map(([name, type]) => ({ name, type, nullable: true })),
        { nowMs: () => spark.ranAtMs },
      );
      for (const [i, record] of records.entries()) {
        const outcome = parse(record.value);
        if (!outcome.ok) rowsAllNull++;
        const theirs = spark.rows[i]?.[schemaName] ?? {};
        for (const [field, type] of schema) {
          fields++;
          const ours = outcome.ok ? (outcome.row[field] ?? null) : null;
          const want = expected(type, theirs[field] ?? null);
          if (Object.is(ours, want)) continue;
          const deviation = knownDeviation(type, ours, want);
          if (deviation) deviations.set(deviation, (deviations.get(deviation) ?? 0) + 1);
          else
            mismatches.push(
              `${record.name} · ${schemaName}.${field} (${type}): ours ${String(ours)}, Spark ${String(want)}` +
                (outcome.ok ? "" : ` (ours: ${outcome.reason})`),
            );
        }
      }
    }
    const documented = [...deviations].map(([what, n]) => `${n} ${what}`).join(", ") || "none";
    console.log(
      `[spark parity] from_json: ${records.length} records × ${Object.keys(SCHEMAS).length} schemas, ` +
        `${fields} fields compared with Spark ${spark.spark}: ${fields - mismatches.length - [...deviations.values()].reduce((a, b) => a + b, 0)} equal, ` +
        `${mismatches.length} different, documented deviations: ${documented}; ${rowsAllNull} rows all null (dead letters)`,
    );
    expect(mismatches).toEqual([]);
  });
});
