import { Duration, Stack, type StackProps } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { mappingStartingPosition } from "../../shared/pipeline/starting-position.ts";
import { pipelineNamed } from "../../shared/pipelines/index.ts";
import { ConfigError, readConfig } from "../config.ts";
import { KafkaCluster } from "../constructs/kafka-cluster.ts";
import { KafkaMapping } from "../constructs/kafka-mapping.ts";
import { Observability } from "../constructs/observability.ts";
import { PipelineFunctions } from "../constructs/pipeline-functions.ts";
import { PipelineTopics } from "../constructs/pipeline-topics.ts";
import { StateTable } from "../constructs/state-table.ts";
import { filterPattern } from "../filter-criteria.ts";
import { acknowledgeNagFindings } from "../nag.ts";

/** Assembles a sparkless deployment from the CDK context and the pipeline definition. */
export class SparklessStack extends Stack {
  readonly state: StateTable;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    const config = readConfig(this.node);
    let pipeline: ReturnType<typeof pipelineNamed>;
    try {
      pipeline = pipelineNamed(config.pipeline);
    } catch (error) {
      throw new ConfigError(`context 'sparkless:pipeline': ${(error as Error).message}`);
    }
    if (pipeline.topics.sourcePattern) {
      throw new ConfigError(
        `pipeline '${pipeline.name}' reads a topic pattern; Lambda's MSK mappings take topic names: list them in source.topics`,
      );
    }

    const cluster = new KafkaCluster(this, "Kafka", {
      cluster: config.cluster,
      name: `sparkless-${pipeline.name}`,
    });
    this.state = new StateTable(this, "State");
    const functions = new PipelineFunctions(this, "Functions", {
      pipeline,
      cluster,
      table: this.state.table,
      memoryMb: config.functions.memoryMb,
      timeoutSeconds: config.functions.timeoutSeconds,
      logRetentionDays: config.functions.logRetentionDays,
    });
    const topics = new PipelineTopics(this, "Topics", {
      pipeline,
      cluster,
      replicationFactor: config.cluster.mode === "new" ? Math.min(3, config.cluster.brokers) : 3,
    });
    const onFailure = new sqs.Queue(this, "OnFailure", {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    const group = (stage: string) => `sparkless-${pipeline.name}-${stage}`;
    const mappings = [
      ...pipeline.topics.sources.map((topic, i) => ({
        mapping: new KafkaMapping(this, `ParseFilterMapping${i}`, {
          cluster,
          fn: functions.parseFilter,
          topic,
          consumerGroupId: group("parse-filter"),
          batchSize: pipeline.batchSize,
          maxBatchingWindowMs: pipeline.maxBatchingWindowMs,
          startingPosition: mappingStartingPosition(pipeline.name, pipeline.startingPosition),
          ...(config.eventFiltering
            ? { filterPattern: filterPattern(pipeline.declarativeFilter) }
            : {}),
          onFailure,
          ...(config.pollers ? { pollers: config.pollers } : {}),
        }),
        consumerGroupId: group("parse-filter"),
        topic,
      })),
      {
        mapping: new KafkaMapping(this, "WindowMapping", {
          cluster,
          fn: functions.window,
          topic: pipeline.topics.repartition,
          consumerGroupId: group("window"),
          batchSize: pipeline.batchSize,
          maxBatchingWindowMs: pipeline.maxBatchingWindowMs,
          startingPosition: "TRIM_HORIZON",
          onFailure,
          ...(config.pollers ? { pollers: config.pollers } : {}),
        }),
        consumerGroupId: group("window"),
        topic: pipeline.topics.repartition,
      },
    ];
    // The mappings need their topics to exist when they start reading.
    for (const { mapping } of mappings) mapping.node.addDependency(topics);

    new events.Rule(this, "FlushSchedule", {
      description: `sparkless ${pipeline.name}: close windows of quiet partitions`,
      schedule: events.Schedule.rate(Duration.minutes(config.flushEveryMinutes)),
      targets: [new targets.LambdaFunction(functions.flush, { retryAttempts: 2 })],
    });

    new Observability(this, "Observability", {
      pipeline,
      clusterName: cluster.clusterName,
      functions: {
        ParseFilter: functions.parseFilter,
        Window: functions.window,
        Flush: functions.flush,
      },
      mappings,
      onFailure,
      table: this.state.table,
      offsetLagThreshold: config.alarms.offsetLag,
      timeLagThresholdSeconds: config.alarms.timeLagSeconds,
      ...(config.alarms.email ? { email: config.alarms.email } : {}),
    });
    acknowledgeNagFindings(this);
  }
}
