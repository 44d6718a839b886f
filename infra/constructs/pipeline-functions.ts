import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Duration } from "aws-cdk-lib";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { Pipeline } from "../../shared/pipeline/pipeline.ts";
import type { KafkaCluster } from "./kafka-cluster.ts";

const functionsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "functions");

export interface PipelineFunctionsProps {
  readonly pipeline: Pipeline;
  readonly cluster: KafkaCluster;
  readonly table: TableV2;
  /** @default 1024 */
  readonly memoryMb?: number;
  /** At most 840 (Lambda's limit for functions Kafka mappings invoke). @default 60 */
  readonly timeoutSeconds?: number;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /**
   * Partitions over all source topics, when the deployment knows them: the window partitions'
   * watermarks wait for that many sources (`SOURCE_PARTITIONS`, see runtime/environment.ts).
   */
  readonly sourcePartitions?: number;
}

/**
 * The pipeline's three functions (parse/filter, window, flush), bundled from `functions/` by the
 * local esbuild for nodejs22.x on arm64, in the cluster's VPC, each with exactly the permissions
 * it uses: the state table, its Kafka login (the SCRAM secret and its key, or IAM actions on
 * the pipeline's topics), and what an MSK event-source mapping needs from its function's role.
 */
export class PipelineFunctions extends Construct {
  readonly parseFilter: NodejsFunction;
  readonly window: NodejsFunction;
  readonly flush: NodejsFunction;

  constructor(scope: Construct, id: string, props: PipelineFunctionsProps) {
    super(scope, id);
    const { pipeline, cluster, table } = props;
    const { repartition, output, deadLetter, late } = pipeline.topics;
    const ownTopics = [repartition, output, deadLetter, late];
    const { sourcePartitions } = props;
    const make = (name: string, description: string) => {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, {
        // config.ts admits only the retentions CloudWatch Logs accepts.
        retention: (props.logRetentionDays ?? 30) as logs.RetentionDays,
      });
      const fn = new NodejsFunction(this, name, {
        entry: join(functionsDir, `${kebab(name)}.ts`),
        description,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: props.memoryMb ?? 1024,
        timeout: Duration.seconds(props.timeoutSeconds ?? 60),
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        vpc: cluster.vpc,
        vpcSubnets: cluster.subnets,
        securityGroups: [cluster.securityGroup as ec2.ISecurityGroup],
        environment: {
          PIPELINE_NAME: pipeline.name,
          STATE_TABLE_NAME: table.tableName,
          // The window partitions' watermarks wait for this many sources (runtime/environment.ts).
          ...(sourcePartitions === undefined
            ? {}
            : { SOURCE_PARTITIONS: String(sourcePartitions) }),
          ...cluster.kafkaEnvironment(),
          POWERTOOLS_SERVICE_NAME: `sparkless-${kebab(name)}`,
          POWERTOOLS_METRICS_NAMESPACE: "sparkless",
          NODE_OPTIONS: "--enable-source-maps",
        },
        bundling: { sourceMap: true, forceDockerBundling: false },
      });
      table.grantReadWriteData(fn);
      // Results, repartitioned events, late events and dead letters: the pipeline's own topics.
      cluster.grantKafkaAccess(fn, { produce: ownTopics });
      // Every function logs in to Kafka (the flush one on a schedule): not before the SCRAM
      // secret is associated with the cluster. Only the function itself waits: its role is in
      // the key's policy, which the cluster's storage encryption needs first.
      fn.node.defaultChild?.node.addDependency(cluster.loginReady);
      return fn;
    };
    this.parseFilter = make(
      "ParseFilter",
      `sparkless ${pipeline.name}: parse, validate, filter, repartition`,
    );
    this.window = make("Window", `sparkless ${pipeline.name}: window state, watermark, results`);
    this.flush = make("Flush", `sparkless ${pipeline.name}: closes windows of quiet partitions`);
    // The window function reads what the parse function writes: on an update, the reader of a new
    // repartition format (0.3.0's packs) is in place before its writer. CloudFormation updates a
    // resource after those it depends on.
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html
    this.parseFilter.node.defaultChild?.node.addDependency(
      this.window.node.defaultChild as Construct,
    );

    // What Lambda needs from the role of a function an MSK mapping invokes: AWS documents
    // AWSLambdaMSKExecutionRole as the minimum (cluster description and brokers, the VPC, subnets
    // and security groups the pollers run in, network interfaces, logs).
    // https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html
    for (const fn of [this.parseFilter, this.window]) {
      fn.role?.addManagedPolicy(
        iam.ManagedPolicy.fromAwsManagedPolicyName("service-role/AWSLambdaMSKExecutionRole"),
      );
    }
  }
}

const kebab = (name: string) => name.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase();
