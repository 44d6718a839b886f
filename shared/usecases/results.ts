import type { Message } from "kafkajs";
import type { Aggregator, AggState } from "../engine/aggregations.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import type { WindowId } from "../store/window-store.ts";
import { HEADERS } from "./headers.ts";

/** How long a closed window stays queryable in DynamoDB before TTL removes it. */
export const EMITTED_RETENTION_MS = 7 * 24 * 3_600_000;

/**
 * The output record of a window result. Key, value and headers depend only on the stored window,
 * so a re-send after a crash is byte-identical. Consumers dedupe on the `sparkless-result-id`
 * header (or on the key and window): in final mode it is
 * `<pipeline>/<key>/<start ms>/<end ms>`; update mode appends the version of the state item the
 * value was written in, one id per value.
 */
export function resultMessage(
  pipeline: Pipeline,
  aggregator: Aggregator,
  window: WindowId & { readonly state: unknown; readonly version: number },
): Message {
  const result = {
    groupKey: window.groupKey,
    windowStartMs: window.startMs,
    windowEndMs: window.endMs,
    values: aggregator.result(window.state as AggState),
  };
  const id = `${pipeline.name}/${encodeURIComponent(window.groupKey)}/${window.startMs}/${window.endMs}`;
  return {
    key: pipeline.outputKey(result),
    value: pipeline.outputValue(result),
    headers: { [HEADERS.resultId]: pipeline.emit === "update" ? `${id}/${window.version}` : id },
  };
}
