import { definePipeline, type Pipeline } from "../../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";

/**
 * The default pipeline on topics of its own (`<name>.transactions` → `<name>.out`), in batches of
 * 50 so a trace takes many invocations — window batches of one record, a pack of at most those 50
 * events or a progress marker, so they are no wider (the trace's expected results assume late
 * events are judged against a watermark at most 50 events old) — and one repartition partition:
 * a backlog replayed through several would let one partition's progress make another's events
 * late (README § Semantics), which is not what the hardening tests are about.
 */
export function tracePipeline(name: string): Pipeline {
  return definePipeline({
    ...userSpending.definition,
    name,
    source: {
      ...userSpending.definition.source,
      topics: [`${name}.transactions`],
      batchSize: 50,
    },
    output: { topic: `${name}.out` },
    repartitionBatchSize: 1,
    partitions: 1,
  });
}
