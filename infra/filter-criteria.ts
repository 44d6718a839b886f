import type { DeclarativeFilter } from "../shared/pipeline/definition.ts";

/**
 * The Lambda event-filtering pattern for a declarative filter, applied by the mapping to the
 * record value (parsed as JSON) before any invocation, or undefined when there is nothing to
 * translate. `notNull` becomes "exists" — weaker (a present `null` still passes; the function
 * filters it) but never stronger than the pipeline's own filter.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk-filtering.html
 */
export function filterPattern(filter: DeclarativeFilter | undefined): object | undefined {
  if (!filter) return undefined;
  const value: Record<string, unknown[]> = {};
  for (const column of filter.notNull ?? []) value[column] = [{ exists: true }];
  for (const [column, expected] of Object.entries(filter.equals ?? {})) value[column] = [expected];
  return Object.keys(value).length > 0 ? { value } : undefined;
}
