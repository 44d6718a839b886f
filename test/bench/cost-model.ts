/**
 * AWS list prices the cost model uses: US East (N. Virginia), on-demand, no free tier, as
 * published when this was written. They could not be checked from this machine (no internet):
 * change them here, and the figures follow.
 */
export const PRICES = {
  region: "us-east-1",
  /** Lambda, arm64: per GB-second of duration, and per request. */
  lambdaPerGbSecondUsd: 0.0000133334,
  lambdaPerMillionRequestsUsd: 0.2,
  /** DynamoDB on-demand: per million write / read request units. */
  dynamoDbPerMillionWriteUnitsUsd: 0.625,
  dynamoDbPerMillionReadUnitsUsd: 0.125,
  /** MSK provisioned: per broker-hour of kafka.m7g.large, per GB-month of broker storage. */
  mskBrokerHourUsd: 0.204,
  mskStorageGbMonthUsd: 0.1,
} as const;

const HOURS_PER_MONTH = 730;

export interface CostInputs {
  /** Records per invocation of both functions. */
  readonly batchSize: number;
  /** Memory of each function (the stack's `sparkless:memoryMb`). */
  readonly memoryMb: number;
  /** The parse/filter step's in-process speed at that batch size (hot path bench). */
  readonly parseEventsPerSec: number;
  /** The window step's wall time per batch against DynamoDB (cost bench; DynamoDB Local). */
  readonly windowMsPerBatch: number;
  /** One produce round trip per invocation (results, repartition), an assumption. */
  readonly produceMsPerInvocation: number;
  readonly writeUnitsPer1000: number;
  readonly readUnitsPer1000: number;
  /** The cluster the stack deploys by default. */
  readonly mskBrokers: number;
  readonly mskVolumeGb: number;
}

/**
 * Cost per million events of the Lambda functions and DynamoDB, from the measured durations and
 * capacity units, and MSK's fixed monthly cost apart (it does not depend on the event count).
 */
export function costPerMillionEvents(inputs: CostInputs) {
  const invocations = 1e6 / inputs.batchSize;
  const gb = inputs.memoryMb / 1024;
  const parseMs =
    (inputs.batchSize / inputs.parseEventsPerSec) * 1000 + inputs.produceMsPerInvocation;
  const windowMs = inputs.windowMsPerBatch + inputs.produceMsPerInvocation;
  const lambdaDurationUsd =
    invocations * ((parseMs + windowMs) / 1000) * gb * PRICES.lambdaPerGbSecondUsd;
  const lambdaRequestsUsd = ((2 * invocations) / 1e6) * PRICES.lambdaPerMillionRequestsUsd;
  const dynamoDbUsd =
    inputs.writeUnitsPer1000 * 1000 * (PRICES.dynamoDbPerMillionWriteUnitsUsd / 1e6) +
    inputs.readUnitsPer1000 * 1000 * (PRICES.dynamoDbPerMillionReadUnitsUsd / 1e6);
  const mskMonthlyUsd =
    inputs.mskBrokers * HOURS_PER_MONTH * PRICES.mskBrokerHourUsd +
    inputs.mskBrokers * inputs.mskVolumeGb * PRICES.mskStorageGbMonthUsd;
  return {
    prices: PRICES,
    inputs,
    invocationsPerMillion: 2 * invocations,
    parseMsPerInvocation: parseMs,
    windowMsPerInvocation: windowMs,
    lambdaUsdPerMillion: lambdaDurationUsd + lambdaRequestsUsd,
    dynamoDbUsdPerMillion: dynamoDbUsd,
    totalUsdPerMillion: lambdaDurationUsd + lambdaRequestsUsd + dynamoDbUsd,
    mskMonthlyUsd,
  };
}
