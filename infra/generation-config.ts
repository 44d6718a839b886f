import type { Node } from "constructs";
import { type GenerationSettings, pipelineGeneration } from "../shared/pipeline/generation.ts";
import type { Pipeline } from "../shared/pipeline/pipeline.ts";
import { parseStartFrom } from "../shared/pipeline/starting-position.ts";
import { ConfigError } from "./config.ts";

/**
 * The reprocessing settings of a deploy: `sparkless:generation` (default 1), `sparkless:startFrom`
 * (an ISO time, `earliest`, `latest` or Spark's offsets JSON) and `sparkless:outputTopic`, applied
 * to the pipeline. A start or output without a new generation is refused: generation 1's groups
 * have committed offsets, so Lambda would ignore a new start (README § Reprocessing).
 */
export function deployedGeneration(node: Node, pipeline: Pipeline): Pipeline {
  const get = (key: string): unknown => node.tryGetContext(`sparkless:${key}`);
  const rawGeneration = get("generation") ?? 1;
  const generation = Number(rawGeneration);
  const startFrom = get("startFrom");
  const outputTopic = get("outputTopic");
  if (!Number.isInteger(generation) || generation < 1 || generation > 9999)
    throw new ConfigError(
      `context 'sparkless:generation' must be a whole number from 1 to 9999, got '${String(rawGeneration)}'`,
    );
  if (generation === 1 && (startFrom !== undefined || outputTopic !== undefined))
    throw new ConfigError(
      "context 'sparkless:startFrom'/'sparkless:outputTopic' start a new generation: also set 'sparkless:generation' to the next number (2 for the first reprocessing)",
    );
  try {
    const settings: GenerationSettings = {
      generation,
      ...(startFrom === undefined
        ? {}
        : {
            startFrom: parseStartFrom(
              typeof startFrom === "string" ? startFrom : JSON.stringify(startFrom),
            ),
          }),
      ...(outputTopic === undefined ? {} : { outputTopic: String(outputTopic) }),
    };
    return pipelineGeneration(pipeline, settings);
  } catch (error) {
    throw new ConfigError(
      `context 'sparkless:generation'/'sparkless:startFrom': ${(error as Error).message}`,
    );
  }
}
