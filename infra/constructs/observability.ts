import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { Pipeline } from "../../shared/pipeline/pipeline.ts";
import type { KafkaMapping } from "./kafka-mapping.ts";

export interface ObservabilityProps {
  readonly pipeline: Pipeline;
  readonly clusterName: string;
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** Mappings with the consumer group and topic each reads. */
  readonly mappings: ReadonlyArray<{
    mapping: KafkaMapping;
    consumerGroupId: string;
    topic: string;
  }>;
  readonly onFailure: sqs.IQueue;
  readonly table: TableV2;
  readonly offsetLagThreshold: number;
  readonly timeLagThresholdSeconds: number;
  /** Alarm notifications by e-mail through an SNS topic. */
  readonly email?: string;
}

/**
 * Alarms and a dashboard for a pipeline: consumer lag per mapping (Lambda's `OffsetLag`) and per
 * consumer group (MSK's `MaxOffsetLag`, `EstimatedMaxTimeLag`), function errors and throttles,
 * dead-letter growth, on-failure deliveries; throughput per stage, watermark lag, DynamoDB.
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
 * https://docs.aws.amazon.com/msk/latest/developerguide/consumer-lag.html
 */
export class Observability extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const topic = props.email ? new sns.Topic(this, "Alarms", { enforceSSL: true }) : undefined;
    if (topic && props.email)
      topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    const alarm = (
      name: string,
      metric: cloudwatch.Metric,
      threshold: number,
      description: string,
    ) => {
      const created = metric.createAlarm(this, name, {
        threshold,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      if (topic) created.addAlarmAction(new actions.SnsAction(topic));
      this.alarms.push(created);
      return created;
    };
    const period = Duration.minutes(1);

    const lagWidgets: cloudwatch.IMetric[] = [];
    for (const { mapping, consumerGroupId, topic: kafkaTopic } of props.mappings) {
      // Ref of an event-source mapping is its UUID, the OffsetLag dimension.
      const uuid = mapping.mapping.ref;
      const offsetLag = new cloudwatch.Metric({
        namespace: "AWS/Lambda",
        metricName: "OffsetLag",
        dimensionsMap: { EventSourceMappingUUID: uuid },
        statistic: "Maximum",
        period,
      });
      lagWidgets.push(offsetLag);
      alarm(
        `${mapping.node.id}OffsetLag`,
        offsetLag,
        props.offsetLagThreshold,
        `Lambda mapping on ${kafkaTopic} is behind`,
      );
      const group = {
        "Cluster Name": props.clusterName,
        "Consumer Group": consumerGroupId,
        Topic: kafkaTopic,
      };
      alarm(
        `${mapping.node.id}MaxOffsetLag`,
        new cloudwatch.Metric({
          namespace: "AWS/Kafka",
          metricName: "MaxOffsetLag",
          dimensionsMap: group,
          statistic: "Maximum",
          period,
        }),
        props.offsetLagThreshold,
        `Consumer group ${consumerGroupId} is behind on ${kafkaTopic} (records)`,
      );
      alarm(
        `${mapping.node.id}EstimatedMaxTimeLag`,
        new cloudwatch.Metric({
          namespace: "AWS/Kafka",
          metricName: "EstimatedMaxTimeLag",
          dimensionsMap: group,
          statistic: "Maximum",
          period,
        }),
        props.timeLagThresholdSeconds,
        `Consumer group ${consumerGroupId} is behind on ${kafkaTopic} (seconds)`,
      );
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}Errors`, fn.metricErrors({ period }), 0, `${name} function errors`);
      alarm(`${name}Throttles`, fn.metricThrottles({ period }), 0, `${name} function throttled`);
    }
    // Powertools EMF dimensions: `service` (its POWERTOOLS_SERVICE_NAME) and the default `pipeline`.
    const dimensions = (service: string) => ({
      service: `sparkless-${service}`,
      pipeline: props.pipeline.name,
    });
    const metric = (service: string, metricName: string, statistic = "Sum") =>
      new cloudwatch.Metric({
        namespace: "sparkless",
        metricName,
        dimensionsMap: dimensions(service),
        statistic,
        period,
      });
    alarm(
      "DeadLetterGrowth",
      metric("parse-filter", "invalid"),
      0,
      `Records went to ${props.pipeline.topics.deadLetter}`,
    );
    alarm(
      "OnFailureDeliveries",
      props.onFailure.metricApproximateNumberOfMessagesVisible({ period }),
      0,
      "A mapping gave up on a batch after its retries",
    );

    const dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: `sparkless-${props.pipeline.name}`,
    });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Consumer lag (records, per mapping)",
        left: lagWidgets,
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: "Throughput per stage (events/min)",
        left: [
          metric("parse-filter", "eventsIn"),
          metric("parse-filter", "valid"),
          metric("window", "counted"),
          metric("window", "emitted"),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: "Watermark lag (ms)",
        left: [metric("window", "watermarkLagMs", "Maximum")],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "Dead letters, late events",
        left: [metric("parse-filter", "invalid"), metric("window", "late")],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "DynamoDB capacity",
        left: [
          props.table.metricConsumedWriteCapacityUnits({ period }),
          props.table.metricConsumedReadCapacityUnits({ period }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: "Function errors",
        left: Object.values(props.functions).map((fn) => fn.metricErrors({ period })),
        width: 12,
      }),
    );
  }
}
