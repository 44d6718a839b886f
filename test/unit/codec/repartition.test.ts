import { describe, expect, it } from "vitest";
import {
  decodeRepartitioned,
  decodeRepartitionRecord,
  encodeProgressMarker,
  encodeRepartitioned,
} from "../../../shared/codec/repartition.ts";

const columns = ["amount", "action"];

describe("repartition records", () => {
  it("round-trip an event, its carried columns in wire order and nulls kept", () => {
    // Prepare
    const event = {
      groupKey: 'al"ice ✓',
      eventTimeMs: -1_000,
      row: { action: null, amount: 12.5 },
      source: "transactions/2",
      sourceOffset: 41,
    };

    // Act
    const wire = encodeRepartitioned(event, columns);
    const decoded = decodeRepartitioned(Buffer.from(wire), columns);

    // Assess
    expect(wire).toBe('["al\\"ice ✓",-1000,"transactions/2",41,12.5,null]');
    expect(decoded).toEqual(event);
  });

  it.each([
    ["not JSON", "{"],
    ["an object", '{"k":"a","t":1,"r":{},"s":"t/0","o":1}'],
    ["too few values", '["a",1,"t/0",1,2]'],
    ["a number key", '[1,1,"t/0",1,2,"x"]'],
    ["a text offset", '["a",1,"t/0","1",2,"x"]'],
    ["null", "null"],
  ])("refuse %s as not ours", (_case, value) => {
    expect(() => decodeRepartitioned(Buffer.from(value), columns)).toThrow(
      value === "{" ? SyntaxError : "not a sparkless repartition record",
    );
  });
});

describe("progress markers (issue 14)", () => {
  it("round-trip, and are told apart from events", () => {
    // Prepare
    const marker = {
      source: "transactions/2",
      maxEventTimeMs: 1_700_000_000_000,
      sourceOffset: 99,
      behind: true,
    };

    // Act
    const wire = encodeProgressMarker(marker);
    const decoded = decodeRepartitionRecord(Buffer.from(wire), columns);
    const event = decodeRepartitionRecord(Buffer.from('["a",1,"t/0",1,2,"x"]'), columns);

    // Assess
    expect(wire).toBe('[null,1700000000000,"transactions/2",99,1]');
    expect(decoded).toEqual({ kind: "progress", ...marker });
    expect(event).toMatchObject({ kind: "event", groupKey: "a", sourceOffset: 1 });
    expect(() => decodeRepartitioned(Buffer.from(wire), columns)).toThrow("not a sparkless");
    expect(() => decodeRepartitionRecord(Buffer.from("[null,1]"), columns)).toThrow(
      "not a sparkless",
    );
  });
});
