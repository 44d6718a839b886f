import type { StartingPosition } from "./definition.ts";
import { PipelineDefinitionError } from "./errors.ts";

/** A starting position as Lambda's Kafka event-source mapping takes it. */
export type MappingStartingPosition = "TRIM_HORIZON" | "LATEST" | { readonly timestampMs: number };

/**
 * Translates a pipeline's starting position for an event-source mapping (AWS's or the local
 * runner's). Lambda's Kafka mappings start at the earliest or latest offset or at a timestamp;
 * Spark's per-partition offsets have no equivalent there, so they are refused with the
 * alternatives rather than silently read from elsewhere.
 * https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
 */
export function mappingStartingPosition(
  pipeline: string,
  position: StartingPosition,
): MappingStartingPosition {
  if (position === "earliest") return "TRIM_HORIZON";
  if (position === "latest") return "LATEST";
  if ("timestampMs" in position) return { timestampMs: position.timestampMs };
  throw new PipelineDefinitionError(
    `pipeline '${pipeline}': source.startingPosition: per-partition offsets cannot start a Lambda Kafka mapping; ` +
      "use 'earliest', 'latest' or { timestampMs }",
  );
}
