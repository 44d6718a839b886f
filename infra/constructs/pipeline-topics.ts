import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CustomResource, Duration } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import { DEAD_LETTER_TOPIC_CONFIG, type TopicSpec } from "../../shared/kafka/topics.ts";
import type { Pipeline } from "../../shared/pipeline/pipeline.ts";
import type { KafkaCluster } from "./kafka-cluster.ts";

export interface PipelineTopicsProps {
  readonly pipeline: Pipeline;
  readonly cluster: KafkaCluster;
  /** @default 3 (MSK's recommendation for two or more zones is 3; 2 for a two-broker cluster) */
  readonly replicationFactor?: number;
}

/**
 * The pipeline's own topics — repartition, output (compacted: the latest result per key and
 * window survives), dead-letter and late — created by a custom resource over SASL/SCRAM + TLS,
 * which also fails the deployment with a clear message when a source topic does not exist.
 */
export class PipelineTopics extends Construct {
  constructor(scope: Construct, id: string, props: PipelineTopicsProps) {
    super(scope, id);
    const { pipeline, cluster } = props;
    const replicationFactor = props.replicationFactor ?? 3;
    const retentionMs = String(7 * 24 * 3_600_000);
    const topics: TopicSpec[] = [
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
        configs: { "cleanup.policy": "compact,delete", "retention.ms": retentionMs },
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
      description: `sparkless ${pipeline.name}: creates the pipeline's topics`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.minutes(2),
      logGroup: new logs.LogGroup(this, "HandlerLogs", { retention: logs.RetentionDays.ONE_MONTH }),
      vpc: cluster.vpc,
      vpcSubnets: cluster.subnets,
      securityGroups: [cluster.securityGroup],
      environment: {
        KAFKA_SECRET_ARN: cluster.secret.secretArn,
        MSK_CLUSTER_ARN: cluster.clusterArn,
      },
      bundling: { sourceMap: true, forceDockerBundling: false },
    });
    cluster.secret.grantRead(onEvent);
    cluster.secretKey.grantDecrypt(onEvent);
    onEvent.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["kafka:GetBootstrapBrokers"],
        resources: [cluster.clusterArn],
      }),
    );
    const provider = new cr.Provider(this, "Provider", {
      onEventHandler: onEvent,
      logGroup: new logs.LogGroup(this, "ProviderLogs", {
        retention: logs.RetentionDays.ONE_MONTH,
      }),
    });
    new CustomResource(this, "Topics", {
      serviceToken: provider.serviceToken,
      resourceType: "Custom::SparklessTopics",
      properties: { Topics: topics, RequiredTopics: pipeline.topics.sources },
    });
  }
}
