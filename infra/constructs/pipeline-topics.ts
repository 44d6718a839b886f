import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CustomResource, Duration } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import {
  DEAD_LETTER_TOPIC_CONFIG,
  OUTPUT_TOPIC_CONFIG,
  type TopicSpec,
} from "../../shared/kafka/topics.ts";
import type { Pipeline } from "../../shared/pipeline/pipeline.ts";
import type { KafkaCluster } from "./kafka-cluster.ts";

export interface PipelineTopicsProps {
  readonly pipeline: Pipeline;
  readonly cluster: KafkaCluster;
  readonly replicationFactor: number;
  /**
   * Partitions of the source topics to create, for a cluster this stack creates (MSK does not
   * create topics on first use); undefined: the source topics must exist already.
   */
  readonly createSourceTopicsWithPartitions: number | undefined;
  /**
   * Per-partition starting offsets (Spark's JSON form) to commit on the mappings' consumer groups
   * before the mappings exist: Lambda starts from a group's committed offsets and ignores
   * `StartingPosition` (https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html).
   * A group that already committed keeps its offsets. @default none
   */
  readonly startingOffsets?: ReadonlyArray<{
    readonly groupId: string;
    readonly offsets: Readonly<Record<string, Readonly<Record<number, number>>>>;
  }>;
}

/**
 * The pipeline's topics — repartition, output (not compacted: it is keyed by group key), dead
 * letters, late events, and on a new cluster the source topics — kept by a custom resource over
 * SASL/SCRAM + TLS. A deploy creates missing topics, adds partitions and changes configs of
 * existing ones, and fails with a message for what Kafka cannot do in place (fewer partitions,
 * another replication factor) or when a required source topic is missing.
 */
export class PipelineTopics extends Construct {
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: PipelineTopicsProps) {
    super(scope, id);
    const { pipeline, cluster, replicationFactor } = props;
    const retentionMs = String(7 * 24 * 3_600_000);
    const sources: TopicSpec[] =
      props.createSourceTopicsWithPartitions === undefined
        ? []
        : pipeline.topics.sources.map((topic) => ({
            topic,
            numPartitions: props.createSourceTopicsWithPartitions as number,
            replicationFactor,
            configs: { "retention.ms": retentionMs },
          }));
    const topics: TopicSpec[] = [
      ...sources,
      {
        topic: pipeline.topics.repartition,
        numPartitions: pipeline.partitions,
        replicationFactor,
        configs: { "retention.ms": retentionMs },
      },
      {
        topic: pipeline.topics.output,
        numPartitions: pipeline.partitions,
        replicationFactor,
        configs: { ...OUTPUT_TOPIC_CONFIG, "retention.ms": retentionMs },
      },
      {
        topic: pipeline.topics.deadLetter,
        numPartitions: 1,
        replicationFactor,
        configs: { ...DEAD_LETTER_TOPIC_CONFIG, "retention.ms": String(30 * 24 * 3_600_000) },
      },
      {
        topic: pipeline.topics.late,
        numPartitions: 1,
        replicationFactor,
        configs: { "retention.ms": retentionMs },
      },
    ];
    const onEvent = new NodejsFunction(this, "Handler", {
      entry: join(
        dirname(fileURLToPath(import.meta.url)),
        "..",
        "..",
        "functions",
        "topics-resource.ts",
      ),
      description: `sparkless ${pipeline.name}: creates and updates the pipeline's topics`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.minutes(2),
      logGroup: new logs.LogGroup(this, "HandlerLogs", { retention: logs.RetentionDays.ONE_MONTH }),
      vpc: cluster.vpc,
      vpcSubnets: cluster.subnets,
      securityGroups: [cluster.securityGroup],
      environment: cluster.kafkaEnvironment(),
      bundling: { sourceMap: true, forceDockerBundling: false },
    });
    const startingOffsets = props.startingOffsets ?? [];
    // Committing a group's offsets is Kafka's OffsetCommit: Read on the group and the topic, i.e.
    // MSK's AlterGroup/DescribeGroup on the group and ReadData/DescribeTopic on the topic
    // (https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html).
    cluster.grantKafkaAccess(onEvent, {
      administer: topics.map((t) => t.topic),
      describe: props.createSourceTopicsWithPartitions === undefined ? pipeline.topics.sources : [],
      ...(startingOffsets.length > 0
        ? {
            consume: {
              topics: [...new Set(startingOffsets.flatMap((s) => Object.keys(s.offsets)))],
              groups: startingOffsets.map((s) => s.groupId),
            },
          }
        : {}),
    });
    onEvent.node.defaultChild?.node.addDependency(cluster.loginReady);
    const provider = new cr.Provider(this, "Provider", {
      onEventHandler: onEvent,
      logGroup: new logs.LogGroup(this, "ProviderLogs", {
        retention: logs.RetentionDays.ONE_MONTH,
      }),
    });
    this.resource = new CustomResource(this, "Topics", {
      serviceToken: provider.serviceToken,
      resourceType: "Custom::SparklessTopics",
      properties: {
        Topics: topics,
        RequiredTopics:
          props.createSourceTopicsWithPartitions === undefined ? pipeline.topics.sources : [],
        // JSON text: CloudFormation would turn the offsets' numbers into strings.
        GroupOffsets: startingOffsets.map((s) => ({
          GroupId: s.groupId,
          Offsets: JSON.stringify(s.offsets),
        })),
      },
    });
    // The custom resource logs in to Kafka: not before the SCRAM secret is associated.
    this.resource.node.addDependency(cluster.loginReady);
  }
}
