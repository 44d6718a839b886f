import type { TopicMessages } from "kafkajs";
import type { KafkaRecord } from "../../../shared/msk/event.ts";
import type { Pipeline } from "../../../shared/pipeline/pipeline.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";
import { flushDueWindows } from "../../../shared/usecases/flush.ts";
import { parseFilterStep } from "../../../shared/usecases/parse-filter.ts";
import { processWindowBatch } from "../../../shared/usecases/window-batch.ts";
import { repartitionRecords } from "../../fixtures/repartition-records.ts";

/**
 * Runs a pipeline's two steps in memory, batch by batch, the way the event-source mappings would:
 * parse/filter a batch of source values, then the window step on what it repartitioned.
 */
export function memoryPipeline(pipeline: Pipeline, nowMs: () => number = () => 0) {
  const store = new MemoryWindowStore();
  const sent: TopicMessages[] = [];
  const send = async (topicMessages: TopicMessages[]) => {
    sent.push(...topicMessages.filter((t) => t.messages.length > 0));
  };
  const parse = parseFilterStep(pipeline);
  let offset = 0;
  const deps = { pipeline, store, send, nowMs };
  return {
    store,
    /** Values written to `topic` so far, decoded as text. */
    values: (topic: string) =>
      sent.filter((t) => t.topic === topic).flatMap((t) => t.messages.map((m) => String(m.value))),
    /** Keys and values written to `topic` so far, as text. */
    records: (topic: string) =>
      sent
        .filter((t) => t.topic === topic)
        .flatMap((t) => t.messages.map((m) => ({ key: String(m.key), value: String(m.value) }))),
    async batch(values: readonly object[]) {
      const records: KafkaRecord[] = values.map((v) => ({
        topic: "source",
        partition: 0,
        offset: offset++,
        timestampMs: 0,
        key: null,
        value: Buffer.from(JSON.stringify(v)),
        headers: [],
      }));
      const { repartition } = parse(records);
      return processWindowBatch(repartitionRecords(pipeline, repartition), deps);
    },
    flush: () => flushDueWindows(deps),
  };
}
