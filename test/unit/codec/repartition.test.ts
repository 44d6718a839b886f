import { describe, expect, it } from "vitest";
import { decodeRepartitioned, encodeRepartitioned } from "../../../shared/codec/repartition.ts";

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
