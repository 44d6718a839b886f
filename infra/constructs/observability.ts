import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import type { Pipeline } from "../../shared/pipeline/pipeline.ts";
import type { KafkaMapping } from "./kafka-mapping.ts";

export interface ObservabilityProps {
  readonly pipeline: Pipeline;
  readonly clusterName: string;
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** The pipeline's Kafka mappings, with the function each invokes. */
  readonly mappings: ReadonlyArray<{
    readonly mapping: KafkaMapping;
    readonly fn: lambda.IFunction;
  }>;
  readonly table: TableV2;
  readonly offsetLagThreshold: number;
  readonly timeLagThresholdSeconds: number;
  /** Alarm notifications by e-mail through an SNS topic. */
  readonly email?: string;
}

/**
 * Alarms and a dashboard for a pipeline. The mappings retry a failed batch until it succeeds (no
 * on-failure destination), so a stuck batch shows as lag and errors: Lambda's `OffsetLag` per
 * function (and per mapping where provisioned pollers publish mapping metrics), MSK's
 * `MaxOffsetLag` and `EstimatedMaxTimeLag` per consumer group, function errors and throttles,
 * dead-letter growth; the dashboard adds throughput per stage, watermark lag, DynamoDB.
 *
 * Missing lag data keeps an alarm in its state: MSK emits consumer lag only while a group is
 * STABLE or EMPTY, so a stuck or rebalancing group sends nothing — treating that as "not
 * breaching" would clear a lag alarm at the worst moment, and "breaching" would raise one for a
 * group that has not committed anything yet.
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
 * https://docs.aws.amazon.com/msk/latest/developerguide/consumer-lag.html
 */
export class Observability extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

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
      treatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) => {
      const created = metric.createAlarm(this, name, {
        threshold,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData,
        alarmDescription: description,
      });
      if (topic) created.addAlarmAction(new actions.SnsAction(topic));
      this.alarms.push(created);
      return created;
    };
    const period = Duration.minutes(1);

    const lagWidgets: cloudwatch.IMetric[] = [];
    const keep = cloudwatch.TreatMissingData.MISSING;
    const offsetLag = (dimensionsMap: Record<string, string>) =>
      new cloudwatch.Metric({
        namespace: "AWS/Lambda",
        metricName: "OffsetLag",
        dimensionsMap,
        statistic: "Maximum",
        period,
      });
    // Lambda publishes OffsetLag per function for every Kafka mapping.
    const functionNames = new Map<string, string>();
    for (const [label, fn] of Object.entries(props.functions))
      functionNames.set(fn.functionName, label);
    for (const fn of new Set(props.mappings.map((m) => m.fn))) {
      const label = functionNames.get(fn.functionName) ?? fn.node.id;
      const metric = offsetLag({ FunctionName: fn.functionName });
      lagWidgets.push(metric);
      alarm(
        `${label}OffsetLag`,
        metric,
        props.offsetLagThreshold,
        `A Kafka mapping of the ${label} function is behind (records)`,
        keep,
      );
    }
    for (const { mapping } of props.mappings) {
      const { consumerGroupId, topic: kafkaTopic } = mapping;
      // Per mapping only where the mapping publishes its own metrics (provisioned pollers).
      if (mapping.publishesMetrics) {
        alarm(
          `${mapping.node.id}OffsetLag`,
          // Ref of an event-source mapping is its UUID.
          offsetLag({ EventSourceMappingUUID: mapping.mapping.ref }),
          props.offsetLagThreshold,
          `Lambda mapping on ${kafkaTopic} is behind (records)`,
          keep,
        );
      }
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
        keep,
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
        keep,
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

    const dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: `sparkless-${props.pipeline.name}`,
    });
    this.dashboard = dashboard;
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Consumer lag (records, per function)",
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
