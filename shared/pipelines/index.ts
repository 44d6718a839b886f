import type { Pipeline } from "../pipeline/pipeline.ts";
import { userSpending } from "./user-spending.ts";

/** Every pipeline this deployment runs, by name. Add yours here. */
export const pipelines: ReadonlyMap<string, Pipeline> = new Map([
  [userSpending.name, userSpending],
]);

/** The pipeline named `name`, or an error listing the ones there are. */
export function pipelineNamed(name: string | undefined): Pipeline {
  const pipeline = pipelines.get(name ?? "");
  if (!pipeline) {
    throw new Error(
      `Unknown pipeline '${name ?? ""}'. Known pipelines: ${[...pipelines.keys()].join(", ")}`,
    );
  }
  return pipeline;
}
