import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ArnFormat, CustomResource, Duration, Stack, Validations } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct, type IDependable } from "constructs";
import type { SharedMappingSettings } from "../../shared/lambda/kafka-mappings.ts";
import type { Pipeline } from "../../shared/pipeline/pipeline.ts";
import { mappingStartingPosition } from "../../shared/pipeline/starting-position.ts";
import type { KafkaCluster } from "./kafka-cluster.ts";
import { batchingWindowSeconds } from "./kafka-mapping.ts";

export interface PatternSubscriberProps {
  readonly pipeline: Pipeline;
  readonly cluster: KafkaCluster;
  /** The parse/filter function the mappings invoke. */
  readonly target: lambda.IFunction;
  /** The consumer group of a topic's mapping is this prefix and the topic. */
  readonly groupPrefix: string;
  /** What every mapping gets, as the stack's own mappings (no destination, no retry cap). */
  readonly settings: SharedMappingSettings;
  /** How often new topics are looked for. @default 1 minute */
  readonly every?: Duration;
  /** What must exist before the first pass (the topics, the target's grants). */
  readonly after: readonly IDependable[];
}

/**
 * A pattern source (Spark's `subscribePattern`) on AWS, where a mapping reads named topics: a
 * function that lists the cluster's topics and creates a mapping (its own consumer group, the
 * stack's settings) for every match and deletes the mappings of topics gone, run once at deploy
 * (custom resource, which also deletes them with the stack) and then on a schedule, so a topic
 * created later is read within `every` plus the time Lambda takes to enable a mapping.
 */
export class PatternSubscriber extends Construct {
  readonly fn: NodejsFunction;

  constructor(scope: Construct, id: string, props: PatternSubscriberProps) {
    super(scope, id);
    const { pipeline, cluster, target } = props;
    const pattern = pipeline.topics.sourcePattern as RegExp;
    this.fn = new NodejsFunction(this, "Handler", {
      entry: join(
        dirname(fileURLToPath(import.meta.url)),
        "..",
        "..",
        "functions",
        "pattern-subscriber.ts",
      ),
      description: `sparkless ${pipeline.name}: a mapping per topic matching ${pattern.source}`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.minutes(2),
      logGroup: new logs.LogGroup(this, "HandlerLogs", { retention: logs.RetentionDays.ONE_MONTH }),
      vpc: cluster.vpc,
      vpcSubnets: cluster.subnets,
      securityGroups: [cluster.securityGroup],
      environment: {
        ...cluster.kafkaEnvironment(),
        TARGET_FUNCTION: target.functionName,
        TOPIC_PATTERN: pattern.source,
        GROUP_PREFIX: props.groupPrefix,
        MAPPING_SETTINGS: Stack.of(this).toJsonString(props.settings),
      },
      bundling: { sourceMap: true, forceDockerBundling: false },
    });
    // Listing topics: Connect and DescribeTopic; a pattern has no IAM form, so all topics.
    cluster.grantKafkaAccess(this.fn, { describe: ["*"] });
    this.fn.node.defaultChild?.node.addDependency(cluster.loginReady);
    // Lambda's event-source-mapping actions, scoped as far as Lambda allows: Create takes no
    // resource but the lambda:FunctionArn condition; Delete and Update take the mapping ARN and
    // the same condition; List and Get take no resource and no condition.
    // https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
    const onTarget = { StringEquals: { "lambda:FunctionArn": target.functionArn } };
    this.fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["lambda:CreateEventSourceMapping"],
        resources: ["*"],
        conditions: onTarget,
      }),
    );
    this.fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["lambda:DeleteEventSourceMapping"],
        resources: [
          Stack.of(this).formatArn({
            service: "lambda",
            resource: "event-source-mapping",
            resourceName: "*",
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
        conditions: onTarget,
      }),
    );
    this.fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["lambda:ListEventSourceMappings", "lambda:GetEventSourceMapping"],
        resources: ["*"],
      }),
    );

    // cdk-nag: these wildcards are the narrowest Lambda offers (page above), held to the target
    // function by the condition; acknowledged here, for this construct only.
    Validations.of(this).acknowledge(
      {
        id: "AwsSolutions-IAM5[Resource::*]",
        reason:
          "lambda:CreateEventSourceMapping has no resource type (condition lambda:FunctionArn holds it to the parse/filter function); List/GetEventSourceMappings take none.",
      },
      {
        id: "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:event-source-mapping:*]",
        reason:
          "Mapping UUIDs are made at run time; the lambda:FunctionArn condition holds deletion to the parse/filter function's mappings.",
      },
      {
        id: "AwsSolutions-IAM5[Resource::<PatternSubscriberHandler8E29B29E.Arn>:*]",
        reason: "The CDK custom-resource provider invokes any version of its own handler function.",
      },
    );
    const provider = new cr.Provider(this, "Provider", {
      onEventHandler: this.fn,
      logGroup: new logs.LogGroup(this, "ProviderLogs", {
        retention: logs.RetentionDays.ONE_MONTH,
      }),
    });
    const resource = new CustomResource(this, "Subscriptions", {
      serviceToken: provider.serviceToken,
      resourceType: "Custom::SparklessPatternSubscriptions",
      properties: { Pattern: pattern.source, Settings: props.settings },
    });
    for (const dependency of props.after) resource.node.addDependency(dependency);
    resource.node.addDependency(cluster.loginReady);

    new events.Rule(this, "Schedule", {
      description: `sparkless ${pipeline.name}: map topics newly matching ${pattern.source}`,
      schedule: events.Schedule.rate(props.every ?? Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.fn, { retryAttempts: 2 })],
    });
  }
}

/**
 * The settings of a pattern source's mappings, the same as `KafkaMapping` gives the stack's own:
 * batch size and window, SCRAM secret (none with IAM), starting position, event filter, pollers.
 */
export function patternMappingSettings(
  pipeline: Pipeline,
  cluster: KafkaCluster,
  filter: object | undefined,
  pollers: { readonly min: number; readonly max: number } | undefined,
): SharedMappingSettings {
  const position = mappingStartingPosition(pipeline.name, pipeline.startingPosition);
  return {
    BatchSize: pipeline.batchSize,
    // Unset keeps Lambda's 500 ms default; otherwise whole seconds, checked as KafkaMapping does.
    MaximumBatchingWindowInSeconds: batchingWindowSeconds(
      pipeline.maxBatchingWindowMs,
      "source.maxBatchingWindow",
    ),
    StartingPosition: typeof position === "string" ? position : "AT_TIMESTAMP",
    // Epoch seconds: the function turns it into the Date the SDK takes.
    ...(typeof position === "object"
      ? { StartingPositionTimestamp: Math.floor(position.timestampMs / 1000) as never }
      : {}),
    ...(cluster.login.kind === "scram"
      ? {
          SourceAccessConfigurations: [
            { Type: "SASL_SCRAM_512_AUTH", URI: cluster.login.secret.secretArn },
          ],
        }
      : {}),
    ...(filter ? { FilterCriteria: { Filters: [{ Pattern: JSON.stringify(filter) }] } } : {}),
    ...(pollers
      ? {
          ProvisionedPollerConfig: { MinimumPollers: pollers.min, MaximumPollers: pollers.max },
          MetricsConfig: { Metrics: ["EventCount", "ErrorCount", "KafkaMetrics"] },
        }
      : {}),
  };
}
