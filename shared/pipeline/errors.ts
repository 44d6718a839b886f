/** A pipeline definition that cannot run; the message names the pipeline, the field and the fix. */
export class PipelineDefinitionError extends Error {
  override readonly name = "PipelineDefinitionError";
}
