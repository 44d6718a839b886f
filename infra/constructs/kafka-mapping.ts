import * as lambda from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";
import type { MappingStartingPosition } from "../../shared/pipeline/starting-position.ts";
import { ConfigError } from "../config.ts";
import type { KafkaCluster } from "./kafka-cluster.ts";

/** Lambda's default batching window for Kafka, kept only while the property is unset. */
export const DEFAULT_BATCHING_WINDOW_MS = 500;

export interface KafkaMappingProps {
  readonly cluster: KafkaCluster;
  readonly fn: lambda.IFunction;
  readonly topic: string;
  /** Unique among all Kafka event sources of the account (AWS's rule); fixed at creation. */
  readonly consumerGroupId: string;
  /** @default 100 */
  readonly batchSize?: number;
  /** 500 ms (Lambda's default) or whole seconds up to 300. @default 500 ms */
  readonly maxBatchingWindowMs?: number;
  /** The definition's field that set it, for the error message. @default "source.maxBatchingWindow" */
  readonly batchingWindowSetting?: string;
  /** @default "LATEST" */
  readonly startingPosition?: MappingStartingPosition;
  /** A Lambda event-filtering pattern on the record value; records not matching cost nothing. */
  readonly filterPattern?: object;
  /** Provisioned pollers (steady latency, mapping metrics and logs); absent: on-demand. */
  readonly pollers?: { readonly min: number; readonly max: number };
}

/**
 * One Lambda event-source mapping on an MSK topic, authenticated with the cluster's SCRAM secret
 * or IAM access control, with its own consumer group, batching, starting position and filter. It has no on-failure
 * destination and no retry cap: a failed batch is retried until it succeeds (with a destination,
 * Lambda would give up after 10 retries and commit past the batch). Mapping metrics and system
 * logs exist only with provisioned pollers, so they are set only then.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk-configure.html
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
 * https://docs.aws.amazon.com/lambda/latest/dg/esm-logging.html
 */
export class KafkaMapping extends Construct {
  readonly mapping: lambda.CfnEventSourceMapping;
  readonly consumerGroupId: string;
  readonly topic: string;
  /** Whether the mapping publishes its own metrics (OffsetLag by mapping UUID among them). */
  readonly publishesMetrics: boolean;

  constructor(scope: Construct, id: string, props: KafkaMappingProps) {
    super(scope, id);
    const position = props.startingPosition ?? "LATEST";
    this.consumerGroupId = props.consumerGroupId;
    this.topic = props.topic;
    this.publishesMetrics = props.pollers !== undefined;
    this.mapping = new lambda.CfnEventSourceMapping(this, "Mapping", {
      functionName: props.fn.functionName,
      eventSourceArn: props.cluster.clusterArn,
      topics: [props.topic],
      amazonManagedKafkaEventSourceConfig: { consumerGroupId: props.consumerGroupId },
      // With IAM access control there is no secret: "If IAM auth is active on your MSK cluster,
      // and you don't provide a secret for auth, Lambda automatically defaults to using IAM auth."
      // https://docs.aws.amazon.com/lambda/latest/dg/msk-cluster-auth.html
      ...(props.cluster.login.kind === "scram"
        ? {
            sourceAccessConfigurations: [
              { type: "SASL_SCRAM_512_AUTH", uri: props.cluster.login.secret.secretArn },
            ],
          }
        : {}),
      batchSize: props.batchSize ?? 100,
      maximumBatchingWindowInSeconds: batchingWindowSeconds(
        props.maxBatchingWindowMs ?? DEFAULT_BATCHING_WINDOW_MS,
        props.batchingWindowSetting ?? "source.maxBatchingWindow",
      ),
      startingPosition: typeof position === "string" ? position : "AT_TIMESTAMP",
      ...(typeof position === "object"
        ? { startingPositionTimestamp: Math.floor(position.timestampMs / 1000) }
        : {}),
      ...(props.filterPattern
        ? { filterCriteria: { filters: [{ pattern: JSON.stringify(props.filterPattern) }] } }
        : {}),
      ...(props.pollers
        ? {
            provisionedPollerConfig: {
              minimumPollers: props.pollers.min,
              maximumPollers: props.pollers.max,
            },
            metricsConfig: { metrics: ["EventCount", "ErrorCount", "KafkaMetrics"] },
            loggingConfig: { systemLogLevel: "WARN" },
          }
        : {}),
    });
    // The mapping polls and commits with the SCRAM login: not before the secret is associated.
    this.mapping.node.addDependency(props.cluster.loginReady);
    // What the mapping does through its function's role (IAM: the documented kafka-cluster list).
    props.cluster.grantKafkaAccess(props.fn, {
      consume: { topics: [props.topic], groups: [props.consumerGroupId] },
    });
    // Nothing may add a destination or a retry cap later (an escape hatch, an aspect).
    this.node.addValidation({
      validate: () =>
        this.mapping.destinationConfig !== undefined ||
        this.mapping.maximumRetryAttempts !== undefined ||
        this.mapping.maximumRecordAgeInSeconds !== undefined
          ? [
              `${this.node.path}: Kafka mappings have no on-failure destination and no retry cap by design (README § Deploy, failure handling)`,
            ]
          : [],
    });
  }
}

/**
 * The batching window as CloudFormation takes it: undefined (unset) for Lambda's 500 ms default
 * (once set, whole seconds only, and 500 ms cannot come back), whole seconds otherwise; any
 * other value fails the synth, naming the definition's `setting`.
 * https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
 */
export function batchingWindowSeconds(ms: number, setting: string): number | undefined {
  if (ms === DEFAULT_BATCHING_WINDOW_MS) return undefined;
  if (!Number.isInteger(ms / 1000) || ms < 0 || ms > 300_000) {
    throw new ConfigError(
      `${setting}: ${ms} ms cannot be set on a Lambda Kafka mapping, which takes 500 ms (its default) or whole seconds from 0 to 300`,
    );
  }
  return ms / 1000;
}
