import type { MskEvent } from "../../shared/msk/event.ts";
import type { FilterCriteria } from "./filter-criteria.ts";

/**
 * Lambda's Kafka event-source mapping settings that the local runner honours, with AWS's defaults.
 * https://docs.aws.amazon.com/lambda/latest/dg/msk-esm-parameters.html
 */
export interface MappingConfig {
  /** Names the mapping in stats and logs (the function it invokes). */
  readonly name: string;
  readonly topics: readonly string[];
  readonly consumerGroupId: string;
  /** Records per invocation at most. @default 100 (AWS; max 10,000) */
  readonly batchSize?: number;
  /**
   * How long to gather records before invoking, from the first record gathered.
   * @default 500 (AWS's default for Kafka)
   */
  readonly maximumBatchingWindowMs?: number;
  /** Where a group without committed offsets starts. @default "LATEST" */
  readonly startingPosition?: "TRIM_HORIZON" | "LATEST" | { readonly timestampMs: number };
  /**
   * Retries of a failing batch (the first attempt not counted); -1 retries until it succeeds.
   * With -1 *and* an `onFailure` destination AWS retries 10 times, then skips the batch.
   * @default -1 (AWS)
   */
  readonly maximumRetryAttempts?: number;
  /**
   * Provisioned mode (`ProvisionedPollerConfig`): AWS accepts the error-handling controls
   * (`MaximumRetryAttempts` among them) only then. @default false (on-demand pollers)
   */
  readonly provisionedPollers?: boolean;
  /** First wait before a retry; doubles each retry up to `maxRetryBackoffMs`. @default 200 */
  readonly retryBackoffMs?: number;
  /** @default 30000 */
  readonly maxRetryBackoffMs?: number;
  /**
   * How long the group waits for a runner that died without leaving (a killed process) before it
   * hands its partitions to another. Kafka's minimum is 6000. @default 30000 (kafkajs)
   */
  readonly sessionTimeoutMs?: number;
  /** Lambda event filtering: records no filter matches are skipped (committed, never invoked). */
  readonly filterCriteria?: FilterCriteria;
  /**
   * An on-failure destination: receives, per partition, what AWS's on-failure record describes,
   * once the retries ran out; the batch is then committed past. The pipeline never sets one (it
   * would let AWS skip a window batch): this exists to model, and test, what AWS would do.
   */
  readonly onFailure?: (failure: FailedBatch) => Promise<void>;
  /** `"aws:kafka"` with an ARN (MSK) or `"SelfManagedKafka"`. @default "SelfManagedKafka" */
  readonly eventSource?: MskEvent["eventSource"];
  readonly eventSourceArn?: string;
  readonly handler: (event: MskEvent) => Promise<unknown>;
}

/** One partition's part of a batch given up on after its retries (AWS's on-failure record). */
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
  /** Records handed to the function (each once, however often its batch was retried). */
  recordsIn: number;
  /** Skipped by the filter criteria. */
  filteredOut: number;
  /** Invocations whose payload held records of this partition. */
  invocations: number;
  errors: number;
  retries: number;
  /** Batches skipped past after their retries ran out (only with a cap or a destination). */
  failedBatches: number;
  /** The most attempts one batch of this partition took. */
  maxAttempts: number;
  /** The next offset to read (last committed + 1), or undefined before the first commit. */
  committedOffset: number | undefined;
  /** Handler invocations holding this partition's records now (never above 1). */
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
    maxAttempts: 0,
    committedOffset: undefined,
    inFlight: 0,
    maxInFlight: 0,
  };
}

/** Counters of a mapping's payloads. */
export interface PayloadStats {
  payloads: number;
  /** Payloads holding records of more than one partition. */
  mixedPayloads: number;
  maxRecords: number;
}

/**
 * How many retries a failing batch gets: AWS's `MaximumRetryAttempts` (-1 = until it succeeds),
 * except that -1 with an on-failure destination means 10.
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
 */
export function retryLimit(
  config: Pick<MappingConfig, "maximumRetryAttempts" | "onFailure">,
): number {
  const configured = config.maximumRetryAttempts ?? -1;
  if (configured !== -1) return configured;
  return config.onFailure ? AWS_RETRY_CAP_WITH_DESTINATION : Number.POSITIVE_INFINITY;
}

/** "When you configure both infinite retries and an on-failure destination, … 10 retry attempts." */
export const AWS_RETRY_CAP_WITH_DESTINATION = 10;

/**
 * Refuses settings AWS would refuse: error-handling controls need provisioned pollers ("choose
 * Provisioned mode to configure error handling controls").
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 */
export function checkMappingConfig(config: MappingConfig): void {
  if (config.maximumRetryAttempts !== undefined && !config.provisionedPollers) {
    throw new Error(
      `mapping '${config.name}': maximumRetryAttempts needs provisioned pollers (provisionedPollers: true); on-demand mappings retry until the batch succeeds`,
    );
  }
  const retries = config.maximumRetryAttempts;
  if (retries !== undefined && !(retries === -1 || (Number.isInteger(retries) && retries >= 0))) {
    throw new Error(
      `mapping '${config.name}': maximumRetryAttempts must be -1 (until success) or 0–10000, got ${retries}`,
    );
  }
}

/**
 * The wait before retry number `retry` (1-based). AWS does not document the Kafka mapping's
 * backoff; this one grows exponentially, as its stream mappings' does, to a ceiling.
 */
export function retryBackoffMs(
  retry: number,
  config: Pick<MappingConfig, "retryBackoffMs" | "maxRetryBackoffMs">,
): number {
  const first = config.retryBackoffMs ?? 200;
  const ceiling = config.maxRetryBackoffMs ?? 30_000;
  return Math.min(first * 2 ** Math.min(retry - 1, 30), ceiling);
}
