/**
 * The size DynamoDB bills and limits an item by, from its documented rules, rounded up: attribute
 * names count in UTF-8 bytes, strings in UTF-8 bytes, a number at most 21 bytes (1 byte per two
 * significant digits + 1), booleans and nulls 1 byte, maps and lists 3 bytes plus 1 byte per
 * element, sets the sum of their members. Used to split a window shard before it would cross the
 * 400 KB item limit, counting every attribute (keys, entries, `applied`, versions).
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 */
export function itemSizeBytes(item: Readonly<Record<string, unknown>>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    bytes += Buffer.byteLength(name) + valueSizeBytes(value);
  }
  return bytes;
}

function valueSizeBytes(value: unknown): number {
  if (typeof value === "string") return Buffer.byteLength(value);
  if (typeof value === "number") return numberSizeBytes(value);
  if (typeof value === "boolean" || value === null) return 1;
  if (value instanceof Set) {
    let bytes = 3;
    for (const member of value) bytes += valueSizeBytes(member);
    return bytes;
  }
  if (Array.isArray(value)) {
    return value.reduce((sum: number, v) => sum + 1 + valueSizeBytes(v), 3);
  }
  if (typeof value === "object") {
    let bytes = 3;
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) bytes += 1 + Buffer.byteLength(name) + valueSizeBytes(v);
    }
    return bytes;
  }
  throw new Error(`no DynamoDB size for a ${typeof value}`);
}

function numberSizeBytes(value: number): number {
  const digits = String(Math.abs(value))
    .replace(/[.e+-]/g, "")
    .replace(/^0+/, "").length;
  return Math.min(21, Math.ceil(Math.max(digits, 1) / 2) + 1);
}
