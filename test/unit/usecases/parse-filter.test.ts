import type { Message } from "kafkajs";
import { describe, expect, it } from "vitest";
import { MAX_PACKED_CHARS } from "../../../shared/codec/repartition.ts";
import type { KafkaRecord } from "../../../shared/msk/event.ts";
import { definePipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { HEADERS } from "../../../shared/usecases/headers.ts";
import { parseFilterStep } from "../../../shared/usecases/parse-filter.ts";

// The parse step's rules around Spark's from_json (README, "Semantics"): rows Spark keeps go on
// with their coerced fields counted; what Spark would null as a whole or drop from every window
// goes to the dead-letter topic with a reason; `strict` dead-letters any coercion.
const T = "2025-01-01T12:00:00Z";
const records = (values: readonly unknown[]): KafkaRecord[] =>
  values.map((v, offset) => ({
    topic: "transactions",
    partition: 0,
    offset,
    timestampMs: 0,
    key: null,
    value: Buffer.from(typeof v === "string" ? v : JSON.stringify(v)),
    headers: [],
  }));
/** The events of a batch's repartition records (packs), each as its wire array, in order. */
const eventsOf = (messages: readonly Message[]): unknown[][] =>
  messages.flatMap((m) => {
    const wire = JSON.parse(String(m.value)) as unknown[];
    return wire[0] === null ? [] : (wire as unknown[][]); // a progress marker is not an event
  });
const reasonOf = (message: { headers?: Record<string, unknown> }) =>
  String(message.headers?.[HEADERS.error]);

describe("parseFilterStep", () => {
  const step = parseFilterStep(userSpending);

  it("keeps a row whose amount Spark nulls, and counts the coercion", () => {
    const out = step(
      records([
        { user: "u1", amount: "12.5", event_time: T },
        { user: "u2", amount: true, event_time: T },
        { user: "u3", amount: "12.5", event_time: T },
      ]),
    );
    expect(out.counts).toEqual({
      in: 3,
      valid: 3,
      filtered: 0,
      invalid: 0,
      coerced: { "amount (string for double)": 2, "amount (boolean for double)": 1 },
    });
    expect(eventsOf(out.repartition).find((e) => e[0] === "u1")).toEqual([
      "u1",
      Date.parse(T),
      "transactions/0",
      0,
      null,
    ]);
  });

  it.each([
    ["malformed JSON", '{"user":"u1"', /^malformed JSON: /, "malformed JSON"],
    ["an all-null row", "{}", /^no schema field in the object/, "no schema field in the object"],
    [
      "an event time Spark nulls",
      { user: "u1", amount: 1, event_time: "yesterday" },
      "event time 'event_time' coerced to null (string not a timestamp for timestamp): Spark would drop the row from every window",
      "event time coerced to null",
    ],
    [
      "a missing event time",
      { user: "u1", amount: 1 },
      "event time 'event_time' is missing or null: Spark would drop the row from every window",
      "event time null",
    ],
    [
      "an event time outside years 1-9999",
      { user: "u1", amount: 1, event_time: "+10000-01-01" },
      "event time 'event_time' is outside years 1 to 9999",
      "event time out of range",
    ],
  ])("dead-letters %s with its reason", (_case, value, reason, kind) => {
    const out = step(records([value]));
    expect(out.counts).toMatchObject({ invalid: 1, valid: 0, deadLetters: { [kind]: 1 } });
    expect(reasonOf(out.deadLetter[0] ?? {})).toMatch(reason);
  });

  it("dead-letters a group key Spark nulls (a filter on it would hide the producer's mistake)", () => {
    const keyed = definePipeline({
      ...userSpending.definition,
      schema: { ...userSpending.definition.schema, user: "long" },
    });
    const out = parseFilterStep(keyed)(records([{ user: "u1", amount: 1, event_time: T }]));
    expect(reasonOf(out.deadLetter[0] ?? {})).toBe(
      "group key 'user' coerced to null (string for long): Spark would drop the row from every window",
    );
  });

  it("filters a record without user (the pipeline's notNull filter), as Spark", () => {
    expect(step(records([{ amount: 1, event_time: T }])).counts).toMatchObject({ filtered: 1 });
  });

  it("with strict, dead-letters any coercion, naming the fields and why", () => {
    const strict = parseFilterStep(definePipeline({ ...userSpending.definition, strict: true }));
    const out = strict(records([{ user: "u1", action: 7, amount: "x", event_time: T }]));
    expect(out.counts).toMatchObject({
      valid: 0,
      invalid: 1,
      deadLetters: { "strict: coerced to null": 1 },
    });
    // A STRING keeps any token: action 7 is "7", not a coercion.
    expect(reasonOf(out.deadLetter[0] ?? {})).toBe(
      "strict: field 'amount' coerced to null (string for double)",
    );
  });

  it("packs each partition's events in order, where Kafka's partitioner puts their keys", () => {
    // Prepare: Java's murmur2 puts alice and frank on partition 1 of 2, bob and carol on 0.
    const two = parseFilterStep(definePipeline({ ...userSpending.definition, partitions: 2 }));
    const users = ["alice", "bob", "frank", "carol", "alice", "bob"];

    // Act
    const out = two(records(users.map((user, i) => ({ user, amount: i, event_time: T }))));

    // Assess: one pack per partition, then a progress marker to each.
    const packs = out.repartition.filter((m) => !String(m.value).startsWith("[null,"));
    expect(packs.map((m) => [m.partition, m.key])).toEqual([
      [1, null],
      [0, null],
    ]);
    expect(eventsOf(packs.slice(0, 1)).map((e) => [e[0], e[3]])).toEqual([
      ["alice", 0],
      ["frank", 2],
      ["alice", 4],
    ]);
    expect(eventsOf(packs.slice(1)).map((e) => [e[0], e[3]])).toEqual([
      ["bob", 1],
      ["carol", 3],
      ["bob", 5],
    ]);
    expect(out.repartition.slice(2).map((m) => m.partition)).toEqual([0, 1]);
  });

  it("starts a new pack before one passes MAX_PACKED_CHARS; a pack is stamped with its newest source time", () => {
    // Prepare: 5,000 events of one key, about 45 characters each, with rising source timestamps.
    const batch = records(
      Array.from({ length: 5_000 }, (_, i) => ({ user: "u1", amount: i, event_time: T })),
    ).map((r) => ({ ...r, timestampMs: 1_000 + r.offset }));

    // Act
    const out = step(batch);

    // Assess: nothing lost or reordered, every pack within the bound, stamped with its last event.
    const packs = out.repartition.filter((m) => !String(m.value).startsWith("[null,"));
    expect(packs.length).toBeGreaterThan(2);
    expect(eventsOf(packs).map((e) => e[3])).toEqual(batch.map((r) => r.offset));
    for (const pack of packs) {
      const events = eventsOf([pack]);
      expect(String(pack.value).length).toBeLessThanOrEqual(MAX_PACKED_CHARS);
      expect(pack.timestamp).toBe(String(1_000 + Number(events.at(-1)?.[3])));
    }
  });
});
