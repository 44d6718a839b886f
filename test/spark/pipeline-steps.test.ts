import type { TopicMessages } from "kafkajs";
import { describe, expect, inject, it } from "vitest";
import type { KafkaRecord } from "../../shared/msk/event.ts";
import { definePipeline, type Pipeline } from "../../shared/pipeline/pipeline.ts";
import { MemoryWindowStore } from "../../shared/store/memory-window-store.ts";
import type { ShardId, StoredShard } from "../../shared/store/window-store.ts";
import { parseFilterStep } from "../../shared/usecases/parse-filter.ts";
import { processWindowBatch } from "../../shared/usecases/window-batch.ts";
import { repartitionRecords } from "../fixtures/repartition-records.ts";
import { AGGREGATIONS, type ParityAggregation } from "./corpus.ts";

// Every parity aggregation through the pipeline's own steps — parse/filter, the repartition
// topic's records, the window function, state kept as JSON text as in DynamoDB — against Spark
// 3.5.7: the output record's value byte for byte with to_json(struct(*)), and its key with
// CAST(<group key> AS STRING). NaN, ±Infinity and −0.0 included (they travel in the repartition
// records and the state as Java text; JSON has no number for them).
const spark = inject("sparkParity");
const WINDOW_MS = 5 * 60_000;
const CLOSER_TIME = "2100-01-01T00:00:00Z";

/** The memory store with entries kept as DynamoDbWindowStore keeps them: JSON text. */
class JsonEntriesStore extends MemoryWindowStore {
  override async getShards(
    pipeline: string,
    ids: readonly ShardId[],
  ): Promise<Map<string, StoredShard>> {
    const found = await super.getShards(pipeline, ids);
    for (const [key, shard] of found) {
      const text = JSON.stringify(Object.fromEntries(shard.entries));
      found.set(key, { ...shard, entries: new Map(Object.entries(JSON.parse(text))) });
    }
    return found;
  }
}

function parityPipeline(agg: ParityAggregation): Pipeline {
  return definePipeline({
    name: "parity",
    source: { topics: ["in"] },
    schema: Object.fromEntries(agg.schema),
    groupKey: agg.key,
    eventTime: "event_time",
    window: { type: "tumbling", size: WINDOW_MS },
    watermark: 0,
    aggregations: agg.aggs.map(([fn, column, as]) =>
      column === null ? { fn, as } : { fn, column, as },
    ),
    output: { topic: "out" },
  });
}

/** Our output records (key, value) for one aggregation, sorted by value as parity.py sorts. */
async function ourResults(agg: ParityAggregation): Promise<Array<[key: string, value: string]>> {
  const pipeline = parityPipeline(agg);
  const sent: TopicMessages[] = [];
  const deps = {
    pipeline,
    store: new JsonEntriesStore(),
    nowMs: () => 0,
    send: async (topics: TopicMessages[]) => {
      sent.push(...topics);
    },
  };
  const parse = parseFilterStep(pipeline);
  let offset = 0;
  const batch = async (values: readonly string[]) => {
    const records: KafkaRecord[] = values.map((value) => ({
      topic: "in",
      partition: 0,
      offset: offset++,
      timestampMs: 0,
      key: null,
      value: Buffer.from(value),
      headers: [],
    }));
    const { repartition, deadLetter } = parse(records);
    expect(
      deadLetter.map((m) => String(m.value)),
      agg.name,
    ).toEqual([]);
    await processWindowBatch(repartitionRecords(pipeline, repartition), deps);
  };
  // The events, then one far later (a key of the first event) that closes their windows.
  await batch(agg.events);
  const closer = { ...JSON.parse(agg.events[0] as string), event_time: CLOSER_TIME };
  await batch([JSON.stringify(closer)]);
  return sent
    .filter((t) => t.topic === pipeline.topics.output)
    .flatMap((t) => t.messages.map((m): [string, string] => [String(m.key), String(m.value)]))
    .filter(([, value]) => !value.includes(`"start":"${CLOSER_TIME.slice(0, 19)}`))
    .sort(([, a], [, b]) => (a < b ? -1 : a > b ? 1 : 0));
}

describe("the pipeline's steps against PySpark", () => {
  it("write Spark's to_json bytes and CAST(key AS STRING) keys for every aggregation", async () => {
    let compared = 0;
    let nonFinite = 0;
    for (const agg of AGGREGATIONS) {
      const values = spark.aggregations[agg.name] ?? [];
      const keys = spark.keys[agg.name] ?? [];
      const theirs = values.map((value, i): [string, string] => [keys[i] ?? "", value]);
      const ours = await ourResults(agg);
      expect(ours, agg.name).toEqual(theirs);
      compared += theirs.length;
      nonFinite += values.filter((v) => /"(NaN|-?Infinity)"|:-0\.0\b/.test(v)).length;
    }
    expect(nonFinite).toBeGreaterThan(5); // the corpus does exercise them
    console.log(
      `[spark parity] pipeline steps: ${AGGREGATIONS.length} aggregations, ${compared} output records (key and value) byte-identical with Spark ${spark.spark}, ${nonFinite} of them with NaN, ±Infinity or -0.0`,
    );
  });
});
