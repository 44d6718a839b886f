import type { MskEvent } from "../../shared/msk/event.ts";
import type { FilterCriteria } from "./filter-criteria.ts";

/**
 * Lambda's Kafka event-source mapping settings that the local runner honours.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk-configure.html
 */
export interface MappingConfig {
  /** Names the mapping in stats and logs (the function it invokes). */
  readonly name: string;
  readonly topics: readonly string[];
  readonly consumerGroupId: string;
  /** Records per invocation at most. AWS default 100, max 10,000. */
  readonly batchSize?: number;
  /** How long to gather records before invoking. AWS default for Kafka: 500 ms. */
  readonly maximumBatchingWindowMs?: number;
  /** Where a group without committed offsets starts. @default "LATEST" */
  readonly startingPosition?: "TRIM_HORIZON" | "LATEST" | { readonly timestampMs: number };
  /** Retries of a failing batch before it goes to `onFailure` and is skipped. @default 10 */
  readonly maximumRetryAttempts?: number;
  /** First backoff between retries; doubles each time, up to 30 s. @default 200 */
  readonly retryBackoffMs?: number;
  /** Lambda event filtering: records no filter matches are skipped (committed, never invoked). */
  readonly filterCriteria?: FilterCriteria;
  /** The on-failure destination: receives what AWS's on-failure record describes. */
  readonly onFailure?: (failure: FailedBatch) => Promise<void>;
  /** `"aws:kafka"` with an ARN (MSK) or `"SelfManagedKafka"`. @default "SelfManagedKafka" */
  readonly eventSource?: MskEvent["eventSource"];
  readonly eventSourceArn?: string;
  readonly handler: (event: MskEvent) => Promise<unknown>;
}

/** A batch given up on after its retries, as Lambda's on-failure record describes it. */
export interface FailedBatch {
  readonly mapping: string;
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  readonly batchSize: number;
  readonly attempts: number;
  readonly error: string;
}

/** Counters per partition of a mapping, for the live view and tests. */
export interface PartitionStats {
  recordsIn: number;
  /** Skipped by the filter criteria. */
  filteredOut: number;
  invocations: number;
  errors: number;
  retries: number;
  failedBatches: number;
  /** The next offset to read (last committed + 1), or undefined before the first commit. */
  committedOffset: number | undefined;
  /** Handler invocations running now (never above 1: one batch in flight per partition). */
  inFlight: number;
  maxInFlight: number;
}

/** Counters of a partition nothing has happened on yet. */
export function emptyPartitionStats(): PartitionStats {
  return {
    recordsIn: 0,
    filteredOut: 0,
    invocations: 0,
    errors: 0,
    retries: 0,
    failedBatches: 0,
    committedOffset: undefined,
    inFlight: 0,
    maxInFlight: 0,
  };
}
