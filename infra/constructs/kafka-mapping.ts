import * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { MappingStartingPosition } from "../../shared/pipeline/starting-position.ts";
import type { KafkaCluster } from "./kafka-cluster.ts";

export interface KafkaMappingProps {
  readonly cluster: KafkaCluster;
  readonly fn: lambda.IFunction;
  readonly topic: string;
  readonly consumerGroupId: string;
  /** @default 100 */
  readonly batchSize?: number;
  /** @default 500 ms */
  readonly maxBatchingWindowMs?: number;
  /** @default "LATEST" */
  readonly startingPosition?: MappingStartingPosition;
  /** A Lambda event-filtering pattern on the record value; records not matching cost nothing. */
  readonly filterPattern?: object;
  /** Where batches go once retries are exhausted. */
  readonly onFailure: sqs.IQueue;
  /** Provisioned pollers (steady latency); absent: on-demand. */
  readonly pollers?: { readonly min: number; readonly max: number };
}

/**
 * One Lambda event-source mapping on an MSK topic, authenticated with the cluster's SCRAM secret,
 * with the consumer group, batching, starting position, filter, on-failure destination and the
 * mapping's own metrics (EventCount, ErrorCount, KafkaMetrics — which include OffsetLag).
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk-configure.html
 */
export class KafkaMapping extends Construct {
  readonly mapping: lambda.CfnEventSourceMapping;

  constructor(scope: Construct, id: string, props: KafkaMappingProps) {
    super(scope, id);
    const position = props.startingPosition ?? "LATEST";
    const windowSeconds = Math.round((props.maxBatchingWindowMs ?? 500) / 1000);
    this.mapping = new lambda.CfnEventSourceMapping(this, "Mapping", {
      functionName: props.fn.functionName,
      eventSourceArn: props.cluster.clusterArn,
      topics: [props.topic],
      amazonManagedKafkaEventSourceConfig: { consumerGroupId: props.consumerGroupId },
      sourceAccessConfigurations: [
        { type: "SASL_SCRAM_512_AUTH", uri: props.cluster.secret.secretArn },
      ],
      batchSize: props.batchSize ?? 100,
      maximumBatchingWindowInSeconds: windowSeconds,
      startingPosition: typeof position === "string" ? position : "AT_TIMESTAMP",
      ...(typeof position === "object"
        ? { startingPositionTimestamp: Math.floor(position.timestampMs / 1000) }
        : {}),
      ...(props.filterPattern
        ? { filterCriteria: { filters: [{ pattern: JSON.stringify(props.filterPattern) }] } }
        : {}),
      destinationConfig: { onFailure: { destination: props.onFailure.queueArn } },
      metricsConfig: { metrics: ["EventCount", "ErrorCount", "KafkaMetrics"] },
      ...(props.pollers
        ? {
            provisionedPollerConfig: {
              minimumPollers: props.pollers.min,
              maximumPollers: props.pollers.max,
            },
          }
        : {}),
    });
    props.onFailure.grantSendMessages(props.fn);
  }
}
