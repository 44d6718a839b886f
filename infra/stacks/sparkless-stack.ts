import { Annotations, CfnOutput, Duration, Stack, type StackProps, Validations } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type { Construct } from "constructs";
import type { Pipeline } from "../../shared/pipeline/pipeline.ts";
import {
  groupStartingOffsets,
  mappingStartingPosition,
} from "../../shared/pipeline/starting-position.ts";
import { pipelineNamed } from "../../shared/pipelines/index.ts";
import { ConfigError, readConfig } from "../config.ts";
import { Bastion } from "../constructs/bastion.ts";
import { KafkaCluster } from "../constructs/kafka-cluster.ts";
import { KafkaMapping } from "../constructs/kafka-mapping.ts";
import { Observability } from "../constructs/observability.ts";
import { PatternSubscriber, patternMappingSettings } from "../constructs/pattern-subscriber.ts";
import { PipelineFunctions } from "../constructs/pipeline-functions.ts";
import { PipelineTopics } from "../constructs/pipeline-topics.ts";
import { StateTable } from "../constructs/state-table.ts";
import { filterPattern } from "../filter-criteria.ts";
import { deployedGeneration } from "../generation-config.ts";
import { acknowledgeNagFindings } from "../nag.ts";

export interface SparklessStackProps extends StackProps {
  /**
   * The pipeline to deploy.
   * @default the one named by the context key `sparkless:pipeline` (`user-spending`)
   */
  readonly pipeline?: Pipeline;
}

/** The stack name for a pipeline: one stack per pipeline, so deploying one never replaces another. */
export const stackNameFor = (pipeline: string) => `Sparkless-${pipeline}`;

/** Assembles a sparkless deployment from the CDK context and the pipeline definition. */
export class SparklessStack extends Stack {
  readonly state: StateTable;

  constructor(scope: Construct, id: string, props: SparklessStackProps = {}) {
    super(scope, id, props);
    const config = readConfig(this.node);
    // A reprocessing deploy (`sparkless:generation`) is the pipeline under its generation's name.
    const pipeline = deployedGeneration(
      this.node,
      props.pipeline ?? namedPipeline(config.pipeline),
    );
    if (pipeline.topics.sourcePattern && groupStartingOffsets(pipeline.startingPosition, []))
      throw new ConfigError(
        `pipeline '${pipeline.name}': source.startingPosition: per-partition offsets with a topicPattern are not deployed (the pattern's topics are mapped after deploy); use 'earliest', 'latest' or { timestampMs }, or list the topics in source.topics`,
      );

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
      ...sourcePartitionsOf(this, pipeline, config.topics),
    });
    // A consumer group id must be unique among all Kafka event sources: one per pipeline, stage
    // and source topic. Kafka topic names ([a-zA-Z0-9._-]) fit Lambda's pattern and have no ':'
    // (a colon in the group name suppresses MSK's consumer-lag metrics).
    const group = (stage: string) => `sparkless-${pipeline.name}-${stage}`;
    const topics = new PipelineTopics(this, "Topics", {
      startingOffsets: pipeline.topics.sources.flatMap((topic) => {
        const offsets = groupStartingOffsets(pipeline.startingPosition, [topic]);
        return offsets ? [{ groupId: group(`parse-filter-${topic}`), offsets }] : [];
      }),
      pipeline,
      cluster,
      replicationFactor: config.topics.replicationFactor,
      createSourceTopicsWithPartitions:
        config.cluster.mode === "new" ? config.topics.sourcePartitions : undefined,
    });

    const pollers = config.pollers ? { pollers: config.pollers } : {};
    const mappings = [
      ...pipeline.topics.sources.map((topic, i) => ({
        fn: functions.parseFilter,
        mapping: new KafkaMapping(this, `ParseFilterMapping${i}`, {
          cluster,
          fn: functions.parseFilter,
          topic,
          consumerGroupId: group(`parse-filter-${topic}`),
          batchSize: pipeline.batchSize,
          maxBatchingWindowMs: pipeline.maxBatchingWindowMs,
          startingPosition: mappingStartingPosition(pipeline.name, pipeline.startingPosition),
          ...(config.eventFiltering
            ? { filterPattern: filterPattern(pipeline.declarativeFilter) }
            : {}),
          ...pollers,
        }),
      })),
      {
        fn: functions.window,
        mapping: new KafkaMapping(this, "WindowMapping", {
          cluster,
          fn: functions.window,
          topic: pipeline.topics.repartition,
          consumerGroupId: group("window"),
          batchSize: pipeline.repartitionBatchSize,
          maxBatchingWindowMs: pipeline.repartitionBatchingWindowMs,
          batchingWindowSetting: "repartitionBatchingWindow",
          startingPosition: "TRIM_HORIZON",
          ...pollers,
        }),
      },
    ];
    const patternSubscriber = pipeline.topics.sourcePattern
      ? new PatternSubscriber(this, "PatternSubscriber", {
          pipeline,
          cluster,
          target: functions.parseFilter,
          groupPrefix: group("parse-filter-"),
          settings: patternMappingSettings(
            pipeline,
            cluster,
            config.eventFiltering ? filterPattern(pipeline.declarativeFilter) : undefined,
            config.pollers,
          ),
          after: [topics],
        })
      : undefined;
    if (patternSubscriber) {
      // The topics are known only at run time: any topic, the pattern's groups (IAM clusters).
      cluster.grantKafkaAccess(functions.parseFilter, {
        consume: { topics: ["*"], groups: [`${group("parse-filter-")}*`] },
      });
      const existing = config.cluster.mode === "existing" ? config.cluster : undefined;
      if (existing?.login.kind === "iam") {
        const arn = (kind: string) => existing.clusterArn.replace(":cluster/", `:${kind}/`);
        const accepted: Array<[string, string]> = [
          [
            `${arn("topic")}/*`,
            "A topic pattern has no IAM form: its topics are found at run time.",
          ],
          [
            `${arn("group")}/${group("parse-filter-")}*`,
            "One consumer group per topic found at run time, all under the pipeline's prefix.",
          ],
        ];
        for (const [resource, reason] of accepted)
          Validations.of(this).acknowledge({
            id: `AwsSolutions-IAM5[Resource::${resource}]`,
            reason,
          });
      }
    }
    // The mappings need their topics to exist when they start reading, and their groups' starting
    // offsets committed before they join (the topics resource sets both).
    for (const { mapping } of mappings) mapping.node.addDependency(topics);

    new events.Rule(this, "FlushSchedule", {
      description: `sparkless ${pipeline.name}: close windows of quiet partitions`,
      schedule: events.Schedule.rate(Duration.minutes(config.flushEveryMinutes)),
      targets: [new targets.LambdaFunction(functions.flush, { retryAttempts: 2 })],
    });

    const observability = new Observability(this, "Observability", {
      pipeline,
      clusterName: cluster.clusterName,
      functions: {
        ParseFilter: functions.parseFilter,
        Window: functions.window,
        Flush: functions.flush,
      },
      mappings,
      table: this.state.table,
      offsetLagThreshold: config.alarms.offsetLag,
      timeLagThresholdSeconds: config.alarms.timeLagSeconds,
      ...(config.alarms.email ? { email: config.alarms.email } : {}),
    });

    const bastion =
      config.bastion && cluster.network
        ? new Bastion(this, "Bastion", {
            network: cluster.network,
            securityGroup: cluster.securityGroup,
          })
        : undefined;

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output("ClusterArn", cluster.clusterArn, "The MSK cluster");
    output(
      "BootstrapBrokersCommand",
      `aws kafka get-bootstrap-brokers --cluster-arn ${cluster.clusterArn} --query ${
        cluster.login.kind === "scram"
          ? "BootstrapBrokerStringSaslScram"
          : "BootstrapBrokerStringSaslIam"
      } --output text`,
      cluster.login.kind === "scram"
        ? "Prints the SASL/SCRAM (TLS, port 9096) broker list"
        : "Prints the IAM (TLS, port 9098) broker list",
    );
    if (cluster.login.kind === "scram")
      output(
        "SecretName",
        cluster.login.secretName,
        "The AmazonMSK_ secret holding the SCRAM login",
      );
    output("StateTable", this.state.table.tableName, "DynamoDB table of window state");
    output(
      "SourceTopics",
      pipeline.topics.sourcePattern?.source ?? pipeline.topics.sources.join(","),
      "Topics the pipeline reads (a pattern: mapped by the PatternSubscriber function)",
    );
    output("RepartitionTopic", pipeline.topics.repartition, "Valid events keyed by group key");
    output("OutputTopic", pipeline.topics.output, "Window results");
    output("DeadLetterTopic", pipeline.topics.deadLetter, "Rejected records, reason in headers");
    output("LateTopic", pipeline.topics.late, "Events behind the watermark");
    output(
      "DashboardUrl",
      `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${observability.dashboard.dashboardName}`,
      "CloudWatch dashboard of the pipeline",
    );
    if (bastion && cluster.network) {
      output("BastionInstanceId", bastion.instance.instanceId, "Session Manager target");
      output("VpcCidr", cluster.network.vpc.vpcCidrBlock, "Route this through the bastion");
    }
    acknowledgeNagFindings(this);
  }
}

function namedPipeline(name: string): Pipeline {
  try {
    return pipelineNamed(name);
  } catch (error) {
    throw new ConfigError(`context 'sparkless:pipeline': ${(error as Error).message}`);
  }
}

/**
 * How many source partitions the window function's watermark waits for (issue 14): the listed
 * topics times their partitions, when the stack creates them (a new cluster) or was told
 * (`sparkless:sourcePartitions` with an existing cluster). Unknown (a topic pattern, or an
 * existing cluster without it), a window partition moves on the sources it has heard of: early
 * in a backlog a source not seen yet could find its events late, so synth warns.
 */
function sourcePartitionsOf(
  scope: Construct,
  pipeline: Pipeline,
  topics: { readonly sourcePartitions: number; readonly sourcePartitionsKnown: boolean },
): { sourcePartitions?: number } {
  if (pipeline.topics.sourcePattern) return {};
  if (!topics.sourcePartitionsKnown) {
    Annotations.of(scope).addWarningV2(
      "sparkless:sourcePartitionsUnknown",
      "The window function does not know how many partitions the source topics have: set " +
        "-c sparkless:sourcePartitions=N (partitions of each source topic) so every window " +
        "partition's watermark waits for all of them (README, watermark).",
    );
    return {};
  }
  return { sourcePartitions: topics.sourcePartitions * pipeline.topics.sources.length };
}
