import type { StartingPosition } from "./definition.ts";
import { PipelineDefinitionError } from "./errors.ts";

/** A starting position as Lambda's Kafka event-source mapping takes it. */
export type MappingStartingPosition = "TRIM_HORIZON" | "LATEST" | { readonly timestampMs: number };

/**
 * Translates a pipeline's starting position for an event-source mapping (AWS's or the local
 * runner's). Lambda's Kafka mappings start at the earliest or latest offset or at a timestamp.
 * Spark's per-partition offsets have no `StartingPosition`: they are committed on the mapping's
 * consumer group before the mapping exists (`groupStartingOffsets`, applied by
 * `shared/kafka/group-offsets.ts`), and Lambda then starts from the group's offsets and ignores
 * `StartingPosition` (https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html);
 * TRIM_HORIZON is what it would use for a partition the group has no offset for.
 * https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
 */
export function mappingStartingPosition(
  _pipeline: string,
  position: StartingPosition,
): MappingStartingPosition {
  if (position === "earliest") return "TRIM_HORIZON";
  if (position === "latest") return "LATEST";
  if ("timestampMs" in position) return { timestampMs: position.timestampMs };
  return "TRIM_HORIZON";
}

/**
 * The per-partition offsets a pipeline starts from, restricted to `topics` (one mapping's), or
 * undefined when it starts at earliest, latest or a timestamp.
 */
export function groupStartingOffsets(
  position: StartingPosition,
  topics: readonly string[],
): Readonly<Record<string, Readonly<Record<number, number>>>> | undefined {
  if (typeof position !== "object" || !("offsets" in position)) return undefined;
  return Object.fromEntries(
    Object.entries(position.offsets).filter(([topic]) => topics.includes(topic)),
  );
}

/**
 * Checks a definition's `source.startingPosition`: a timestamp is a finite epoch-ms number; the
 * offsets form (Spark's `startingOffsets` JSON) names source topics only (or topics matching the
 * pattern), every listed source topic, and offsets that are integers ≥ −2 (−2 earliest, −1 latest).
 * Partitions are checked against the cluster when the offsets are applied.
 */
export function checkStartingPosition(
  pipeline: string,
  position: StartingPosition,
  sources: readonly string[],
  pattern: RegExp | undefined,
): void {
  const fail = (problem: string): never => {
    throw new PipelineDefinitionError(
      `pipeline '${pipeline}': source.startingPosition: ${problem}`,
    );
  };
  if (position === "earliest" || position === "latest") return;
  if (typeof position !== "object" || position === null)
    fail(`'${String(position)}' must be 'earliest', 'latest', { timestampMs } or { offsets }`);
  if ("timestampMs" in position) {
    if (!Number.isFinite(position.timestampMs) || position.timestampMs < 0)
      fail(`timestampMs ${position.timestampMs} must be epoch milliseconds`);
    return;
  }
  if (!("offsets" in position) || typeof position.offsets !== "object" || position.offsets === null)
    fail(
      "give 'earliest', 'latest', { timestampMs } or { offsets: { topic: { partition: offset } } }",
    );
  const topics = Object.keys(position.offsets);
  if (topics.length === 0) fail("offsets name no topic");
  for (const topic of topics) {
    if (!(sources.includes(topic) || pattern?.test(topic)))
      fail(`offsets name '${topic}', which is not a source topic`);
    for (const [partition, offset] of Object.entries(position.offsets[topic] ?? {})) {
      if (!/^\d+$/.test(partition)) fail(`${topic}: partition '${partition}' is not a number`);
      if (!Number.isInteger(offset) || offset < -2)
        fail(
          `${topic}/${partition}: ${offset} must be an offset ≥ 0, -2 (earliest) or -1 (latest)`,
        );
    }
  }
  const unlisted = sources.filter((topic) => !topics.includes(topic));
  if (unlisted.length > 0)
    fail(
      `offsets do not list source topic(s) ${unlisted.join(", ")}; as in Spark, list every partition of every topic (-2 earliest, -1 latest)`,
    );
}

/**
 * Parses the command line's `--from`/`startFrom` form: an ISO 8601 time, `earliest`, `latest`, or
 * Spark's offsets JSON (`{"transactions":{"0":23,"1":-2}}`).
 */
export function parseStartFrom(text: string): StartingPosition {
  const value = text.trim();
  if (value === "earliest" || value === "latest") return value;
  if (value.startsWith("{")) {
    let offsets: unknown;
    try {
      offsets = JSON.parse(value);
    } catch (error) {
      throw new PipelineDefinitionError(
        `start position '${value}' is not JSON: ${(error as Error).message}`,
      );
    }
    return { offsets: offsets as Record<string, Record<number, number>> };
  }
  const timestampMs = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(timestampMs)) {
    throw new PipelineDefinitionError(
      `start position '${value}' must be 'earliest', 'latest', an ISO time with its zone (2026-11-30T12:00:00Z) or offsets JSON ({"topic":{"0":23,"1":-2}})`,
    );
  }
  return { timestampMs };
}
