import { describe, expect, it } from "vitest";
import {
  decodeRepartitioned,
  decodeRepartitionRecord,
  encodeProgressMarker,
  encodeRepartitioned,
  packRepartitioned,
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

  it("carries NaN, ±Infinity and −0 losslessly, in any column, and reads records written before", () => {
    // Prepare: JSON has no NaN or infinities and writes −0 as 0.
    const event = {
      groupKey: "u",
      eventTimeMs: 0,
      row: {
        amount: Number.NaN,
        action: "NaN",
        inf: Number.POSITIVE_INFINITY,
        ninf: -Infinity,
        z: -0,
      },
      source: "t/0",
      sourceOffset: 1,
    };
    const all = ["amount", "action", "inf", "ninf", "z"];

    // Act
    const wire = encodeRepartitioned(event, all);
    const decoded = decodeRepartitioned(Buffer.from(wire), all);
    const old = decodeRepartitioned(Buffer.from('["u",0,"t/0",1,null,"NaN",null,null,0]'), all);

    // Assess
    expect(wire).toBe(
      '["u",0,"t/0",1,{"double":"NaN"},"NaN",{"double":"Infinity"},{"double":"-Infinity"},{"double":"-0.0"}]',
    );
    expect(decoded).toEqual(event);
    expect(Object.is(decoded.row.z, -0)).toBe(true);
    expect(decoded.row.action).toBe("NaN"); // a string column's text stays text
    expect(old.row).toEqual({ amount: null, action: "NaN", inf: null, ninf: null, z: 0 });
  });

  it.each([
    ["not JSON", "{"],
    ["an unknown double form", '["a",1,"t/0",1,{"double":"nan"},"x"]'],
    ["an object column", '["a",1,"t/0",1,{},"x"]'],
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
    expect(event).toMatchObject({ kind: "events", events: [{ groupKey: "a", sourceOffset: 1 }] });
    expect(() => decodeRepartitioned(Buffer.from(wire), columns)).toThrow("not a sparkless");
    expect(() => decodeRepartitionRecord(Buffer.from("[null,1]"), columns)).toThrow(
      "not a sparkless",
    );
  });

  it("unpack a record of several events, in order; one bad event refuses the whole record", () => {
    // Prepare
    const events = [1, 2, 3].map((i) => ({
      groupKey: `k${i}`,
      eventTimeMs: i * 1_000,
      row: { amount: i === 2 ? Number.NaN : i, action: "buy" },
      source: "transactions/0",
      sourceOffset: 10 + i,
    }));
    const pack = packRepartitioned(events.map((e) => encodeRepartitioned(e, columns)));

    // Act
    const decoded = decodeRepartitionRecord(Buffer.from(pack), columns);

    // Assess
    expect(decoded).toEqual({ kind: "events", events });
    const bad = packRepartitioned(['["a",1,"t/0",1,2,"x"]', '["b",1,"t/0"]']);
    expect(() => decodeRepartitionRecord(Buffer.from(bad), columns)).toThrow("not a sparkless");
    expect(() => decodeRepartitionRecord(Buffer.from("[]"), columns)).toThrow("not a sparkless");
  });
});
