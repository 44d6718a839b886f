import type { StartingPosition } from "./definition.ts";
import { PipelineDefinitionError } from "./errors.ts";
import { definePipeline, type Pipeline } from "./pipeline.ts";

/** A reprocessing run: which generation, where it starts, where its results go. */
export interface GenerationSettings {
  /** 1 is the pipeline as defined; each reprocessing takes the next. */
  readonly generation: number;
  /** Where the new generation's source mappings start. @default the definition's */
  readonly startFrom?: StartingPosition;
  /** Where its results go. @default the definition's output topic */
  readonly outputTopic?: string;
}

/**
 * The pipeline of a generation. Generation 1 is the pipeline as defined; generation N ≥ 2 is
 * named `<name>-g<N>`, and since the name keys everything the pipeline owns, it gets new consumer
 * groups (so it starts where it is told, not where generation N−1 stopped), new repartition,
 * dead-letter and late topics, and its own state in the table (state keys carry the name), so
 * nothing mixes with the previous generation's. Results go to the output topic unless another is
 * given. The definition's checks apply to the result (a start position in offsets form must name
 * every source topic, and so on).
 */
export function pipelineGeneration(pipeline: Pipeline, settings: GenerationSettings): Pipeline {
  const { generation, startFrom, outputTopic } = settings;
  if (!Number.isInteger(generation) || generation < 1 || generation > 9999) {
    throw new PipelineDefinitionError(
      `pipeline '${pipeline.name}': generation ${generation} must be a whole number from 1 to 9999`,
    );
  }
  if (generation === 1 && startFrom === undefined && outputTopic === undefined) return pipeline;
  const definition = pipeline.definition;
  return definePipeline({
    ...definition,
    name: generation === 1 ? definition.name : `${definition.name}-g${generation}`,
    source: {
      ...definition.source,
      ...(startFrom === undefined ? {} : { startingPosition: startFrom }),
    },
    output: { ...definition.output, ...(outputTopic === undefined ? {} : { topic: outputTopic }) },
  });
}
