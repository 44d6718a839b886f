import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

/**
 * Structured JSON logs and EMF metrics for one function. Logs carry counts, ids and reasons,
 * never record values or credentials.
 */
export function observability(
  functionName: string,
  pipeline: string,
): { logger: Logger; metrics: Metrics } {
  const logger = new Logger({
    serviceName: `sparkless-${functionName}`,
    persistentKeys: { pipeline },
  });
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "sparkless",
    serviceName: `sparkless-${functionName}`,
    defaultDimensions: { pipeline },
  });
  return { logger, metrics };
}

/** Adds each count as a Count metric (EMF), skipping undefined ones. */
export function addCounts(
  metrics: Metrics,
  counts: Readonly<Record<string, number | undefined>>,
): void {
  for (const [name, value] of Object.entries(counts)) {
    if (value !== undefined) metrics.addMetric(name, MetricUnit.Count, value);
  }
}

/**
 * Adds a Count metric per entry of a breakdown (e.g. fields coerced to null by field and reason),
 * each with the entry as a dimension, plus the total under `name` with the default dimensions.
 */
export function addCountsBy(
  metrics: Metrics,
  name: string,
  dimension: string,
  counts: Readonly<Record<string, number>> | undefined,
): void {
  if (counts === undefined) return;
  let total = 0;
  for (const [value, count] of Object.entries(counts)) {
    total += count;
    metrics.singleMetric().addDimension(dimension, value).addMetric(name, MetricUnit.Count, count);
  }
  metrics.addMetric(name, MetricUnit.Count, total);
}
