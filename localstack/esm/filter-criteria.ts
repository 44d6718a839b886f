/**
 * Lambda event filtering for Kafka, as the mapping applies it before invoking: each record is
 * seen as `{ "value": <the value parsed as JSON> }` (other keys of the record are matched as they
 * are), and kept when any filter's pattern matches. A value that is not JSON matches only patterns
 * that do not look into `value`.
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk-filtering.html
 */
export interface FilterCriteria {
  readonly Filters: ReadonlyArray<{ readonly Pattern: string }>;
}

type Pattern = { readonly [key: string]: Pattern | readonly unknown[] };

/** Compiles filter criteria into a predicate over a record's fields and its decoded value. */
export function compileFilterCriteria(
  criteria: FilterCriteria,
): (record: { readonly value: string | null; readonly [key: string]: unknown }) => boolean {
  const patterns = criteria.Filters.map((f) => JSON.parse(f.Pattern) as Pattern);
  return (record) => {
    let value: unknown;
    try {
      value = record.value === null ? undefined : JSON.parse(record.value);
    } catch {
      value = undefined; // not JSON: only patterns that ignore value can match
    }
    const event = { ...record, value };
    return patterns.some((pattern) => matchesObject(pattern, event));
  };
}

function matchesObject(pattern: Pattern, event: unknown): boolean {
  for (const [key, rule] of Object.entries(pattern)) {
    const field =
      typeof event === "object" && event !== null
        ? (event as Record<string, unknown>)[key]
        : undefined;
    if (Array.isArray(rule)) {
      if (!matchesField(rule, field, typeof event === "object" && event !== null && key in event))
        return false;
    } else if (!matchesObject(rule as Pattern, field)) {
      return false;
    }
  }
  return true;
}

/** A field matches when any of its alternatives does (an array value: when any element does). */
function matchesField(alternatives: readonly unknown[], value: unknown, present: boolean): boolean {
  const values = Array.isArray(value) ? value : [value];
  return alternatives.some((alternative) => {
    if (typeof alternative === "object" && alternative !== null) {
      const [operator, operand] = Object.entries(alternative)[0] ?? [];
      if (operator === "exists") return operand === present;
      return values.some((v) => operatorMatches(operator, operand, v, present));
    }
    return present && values.some((v) => v === alternative);
  });
}

function operatorMatches(
  operator: string | undefined,
  operand: unknown,
  value: unknown,
  present: boolean,
): boolean {
  switch (operator) {
    case "prefix":
      return typeof value === "string" && value.startsWith(String(operand));
    case "suffix":
      return typeof value === "string" && value.endsWith(String(operand));
    case "equals-ignore-case":
      return typeof value === "string" && value.toLowerCase() === String(operand).toLowerCase();
    case "anything-but": {
      if (!present) return false;
      const excluded = Array.isArray(operand) ? operand : [operand];
      if (
        typeof operand === "object" &&
        operand !== null &&
        !Array.isArray(operand) &&
        "prefix" in operand
      ) {
        return (
          typeof value === "string" &&
          !value.startsWith(String((operand as { prefix: string }).prefix))
        );
      }
      return !excluded.includes(value);
    }
    case "numeric":
      return (
        typeof value === "number" && numericMatches(operand as readonly (string | number)[], value)
      );
    default:
      throw new Error(`unsupported filter operator '${operator}'`);
  }
}

function numericMatches(conditions: readonly (string | number)[], value: number): boolean {
  for (let i = 0; i < conditions.length; i += 2) {
    const limit = Number(conditions[i + 1]);
    const ok = {
      "=": value === limit,
      "<": value < limit,
      "<=": value <= limit,
      ">": value > limit,
      ">=": value >= limit,
    }[String(conditions[i])];
    if (!ok) return false;
  }
  return true;
}
