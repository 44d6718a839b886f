import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Annotations, Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../infra/config.ts";
import { SparklessStack, stackNameFor } from "../../infra/stacks/sparkless-stack.ts";
import { cacheDir } from "../../localstack/paths.ts";
import { definePipeline } from "../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../shared/pipelines/user-spending.ts";
import { EXISTING, synth as synthTemplate, twoTopics } from "./template.ts";

/** Synthesizes the stack with cdk-nag's AwsSolutions pack; a finding not acknowledged throws. */
const synth = (context: Record<string, string> = {}) => synthTemplate("stack", context);

let fresh: ReturnType<typeof synth>;
let existing: ReturnType<typeof synth>;

beforeAll(() => {
  // WHEN (for every test below): both cluster modes, synthesized offline with cdk-nag.
  fresh = synth();
  existing = synth(EXISTING);
});

describe("a new MSK cluster", () => {
  it("allows SASL/SCRAM over TLS only: no unauthenticated or plaintext client access", () => {
    fresh.template.hasResourceProperties("AWS::MSK::Cluster", {
      ClientAuthentication: {
        Sasl: { Scram: { Enabled: true } },
        Unauthenticated: { Enabled: false },
      },
      EncryptionInfo: Match.objectLike({
        EncryptionInTransit: { ClientBroker: "TLS", InCluster: true },
      }),
    });
  });

  it("keeps the SCRAM secret as MSK requires: AmazonMSK_ name, customer-managed rotating key, associated", () => {
    fresh.template.hasResourceProperties("AWS::SecretsManager::Secret", {
      Name: Match.stringLikeRegexp("^AmazonMSK_"),
      KmsKeyId: { "Fn::GetAtt": [Match.stringLikeRegexp("^KafkaKey"), "Arn"] },
    });
    fresh.template.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true });
    fresh.template.hasResourceProperties("AWS::MSK::BatchScramSecret", {
      SecretArnList: [{ Ref: Match.stringLikeRegexp("^KafkaScramSecret") }],
    });
  });

  it("puts brokers and functions in private subnets with no internet route", () => {
    fresh.template.resourceCountIs("AWS::EC2::NatGateway", 0);
    fresh.template.resourceCountIs("AWS::EC2::InternetGateway", 0);
    const endpoints = Object.values(fresh.template.findResources("AWS::EC2::VPCEndpoint")).map(
      (e) => JSON.stringify(e.Properties.ServiceName),
    );
    for (const service of ["lambda", "sts", "secretsmanager", "kafka", "dynamodb"]) {
      expect(
        endpoints.some((name) => name.endsWith(`.${service}"]]}`)),
        service,
      ).toBe(true);
    }
  });
});

describe("event-source mappings", () => {
  it("map each source topic and the repartition topic with the pipeline's settings", () => {
    const mappings = fresh.template.findResources("AWS::Lambda::EventSourceMapping");
    expect(Object.keys(mappings)).toHaveLength(2);
    fresh.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      Topics: ["transactions"],
      AmazonManagedKafkaEventSourceConfig: {
        ConsumerGroupId: "sparkless-user-spending-parse-filter-transactions",
      },
      SourceAccessConfigurations: [
        { Type: "SASL_SCRAM_512_AUTH", URI: { Ref: Match.stringLikeRegexp("^KafkaScramSecret") } },
      ],
      BatchSize: 10000,
      StartingPosition: "TRIM_HORIZON",
      MaximumBatchingWindowInSeconds: 0,
      MetricsConfig: Match.absent(),
      DestinationConfig: Match.absent(),
    });
    fresh.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      Topics: ["user-spending.repartition"],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: "sparkless-user-spending-window" },
      BatchSize: 10000,
      MaximumBatchingWindowInSeconds: Match.absent(), // Lambda's 500 ms
    });
  });

  it("give the window function's mapping the pipeline's repartitionBatchSize", () => {
    const pipeline = definePipeline({ ...userSpending.definition, repartitionBatchSize: 20 });
    const { template } = synthTemplate("repartition batch size", {}, pipeline);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      Topics: ["user-spending.repartition"],
      BatchSize: 20,
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      Topics: ["transactions"],
      BatchSize: 10000,
    });
  });

  it("adds provisioned pollers and event filtering when asked", () => {
    const tuned = synth({
      "sparkless:minPollers": "2",
      "sparkless:maxPollers": "10",
      "sparkless:eventFiltering": "true",
    });
    tuned.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      Topics: ["transactions"],
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 10 },
      MetricsConfig: { Metrics: ["EventCount", "ErrorCount", "KafkaMetrics"] },
      FilterCriteria: {
        Filters: [{ Pattern: JSON.stringify({ value: { user: [{ exists: true }] } }) }],
      },
    });
  });

  it("map every source topic of a pipeline that reads two, each with its own consumer group", () => {
    const two = synthTemplate("two", {}, twoTopics);
    for (const topic of ["transactions", "refunds"]) {
      two.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        Topics: [topic],
        AmazonManagedKafkaEventSourceConfig: {
          ConsumerGroupId: `sparkless-two-topics-parse-filter-${topic}`,
        },
      });
    }
    two.template.resourceCountIs("AWS::Lambda::EventSourceMapping", 3);
  });

  it("are the same for a session-window pipeline: sessions need nothing new in the stack", () => {
    const sessions = definePipeline({
      ...userSpending.definition,
      name: "sessions",
      window: { type: "session", gap: "5 minutes" },
    });
    const synthesized = synthTemplate("sessions", {}, sessions);
    synthesized.template.resourceCountIs("AWS::Lambda::EventSourceMapping", 2);
    synthesized.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      Topics: ["sessions.repartition"],
    });
  });

  it("read an existing cluster by ARN without creating one", () => {
    existing.template.resourceCountIs("AWS::MSK::Cluster", 0);
    existing.template.resourceCountIs("AWS::EC2::VPC", 0);
    existing.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: EXISTING["sparkless:clusterArn"],
      SourceAccessConfigurations: [
        { Type: "SASL_SCRAM_512_AUTH", URI: EXISTING["sparkless:secretArn"] },
      ],
    });
  });
});

describe("functions and permissions", () => {
  it("run nodejs22.x on arm64 in the VPC with the pipeline's environment", () => {
    fresh.template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }),
      Environment: {
        Variables: Match.objectLike({
          PIPELINE_NAME: "user-spending",
          STATE_TABLE_NAME: Match.anyValue(),
          KAFKA_SECRET_ARN: Match.anyValue(),
        }),
      },
    });
  });

  // Issue 14: a window partition's watermark waits for every source partition; a function that
  // does not know how many there are moves on those it has heard of.
  it("tell the window function how many source partitions there are, and warn when unknown", () => {
    // The pipeline's three functions (the ones with state), not the custom resources'.
    const sourcePartitionsOf = (t: Template) =>
      Object.values(t.findResources("AWS::Lambda::Function"))
        .map((f) => f.Properties.Environment?.Variables)
        .filter((env) => env?.STATE_TABLE_NAME)
        .map((env) => env.SOURCE_PARTITIONS);
    // A new cluster: the stack creates the source topic with 4 partitions (the default).
    expect(new Set(sourcePartitionsOf(fresh.template))).toEqual(new Set(["4"]));
    // An existing cluster told its topics' partitions: every topic of a two-topic pipeline counts.
    const told = synthTemplate(
      "told",
      { ...EXISTING, "sparkless:sourcePartitions": "6" },
      twoTopics,
    );
    expect(new Set(sourcePartitionsOf(told.template))).toEqual(new Set(["12"]));
    // An existing cluster not told: nothing guessed, and synth says what to set.
    expect(new Set(sourcePartitionsOf(existing.template))).toEqual(new Set([undefined]));
    const stack = new SparklessStack(new App({ context: EXISTING }), "Untold");
    Annotations.fromStack(stack).hasWarning(
      "*",
      Match.stringLikeRegexp("set -c sparkless:sourcePartitions=N"),
    );
  });

  it("grant what the MSK mappings need on the cluster, and no wildcard admin rights", () => {
    fresh.template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"],
            Resource: { "Fn::GetAtt": [Match.stringLikeRegexp("^KafkaCluster"), "Arn"] },
          }),
        ]),
      },
    });
    for (const template of [fresh, existing]) {
      for (const [name, policy] of Object.entries(
        template.template.findResources("AWS::IAM::Policy"),
      )) {
        for (const statement of policy.Properties.PolicyDocument.Statement) {
          const actions = [statement.Action].flat();
          expect(actions, name).not.toContain("*");
          expect(
            actions.filter((a: string) => a.endsWith(":*")),
            name,
          ).toEqual([]);
        }
      }
    }
  });
});

describe("state, schedule and alarms", () => {
  it("creates the state table on demand with TTL and point-in-time recovery", () => {
    fresh.template.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      BillingMode: "PAY_PER_REQUEST",
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      ],
    });
  });

  it("runs the flush function on a schedule", () => {
    fresh.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
    });
  });

  it("alarms on each mapped function's OffsetLag and each consumer group's MSK lag", () => {
    for (const fn of ["FunctionsParseFilter", "FunctionsWindow"]) {
      fresh.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: "AWS/Lambda",
        MetricName: "OffsetLag",
        Dimensions: [{ Name: "FunctionName", Value: { Ref: Match.stringLikeRegexp(`^${fn}`) } }],
        Threshold: 10_000,
        TreatMissingData: "missing",
      });
    }
    for (const metric of ["MaxOffsetLag", "EstimatedMaxTimeLag"]) {
      fresh.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: "AWS/Kafka",
        MetricName: metric,
        Dimensions: [
          { Name: "Cluster Name", Value: "sparkless-user-spending" },
          { Name: "Consumer Group", Value: "sparkless-user-spending-window" },
          { Name: "Topic", Value: "user-spending.repartition" },
        ],
      });
    }
    fresh.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "invalid",
      Namespace: "sparkless",
    });
    fresh.template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });
});

describe("deployment", () => {
  it("names the stack after the pipeline, so a second pipeline is a second stack", () => {
    expect(stackNameFor("user-spending")).toBe("Sparkless-user-spending");
  });

  it("adds a Session Manager bastion and its endpoints when asked", () => {
    const withBastion = synth({ "sparkless:bastion": "true" });
    withBastion.template.hasResourceProperties("AWS::EC2::Instance", {
      InstanceType: "t4g.nano",
      Monitoring: true,
    });
    const endpoints = Object.values(
      withBastion.template.findResources("AWS::EC2::VPCEndpoint"),
    ).map((e) => JSON.stringify(e.Properties.ServiceName));
    for (const service of ["ssm", "ssmmessages", "ec2messages"])
      expect(
        endpoints.some((name) => name.endsWith(`.${service}"]]}`)),
        service,
      ).toBe(true);
    expect(Object.keys(withBastion.template.toJSON().Outputs)).toEqual(
      expect.arrayContaining(["BastionInstanceId", "VpcCidr"]),
    );
    fresh.template.resourceCountIs("AWS::EC2::Instance", 0);
  });
});

describe("configuration errors fail synth with a message naming the setting", () => {
  it.each([
    [
      { "sparkless:clusterMode": "serverless" },
      "context 'sparkless:clusterMode' must be 'new' or 'existing'",
    ],
    [{ "sparkless:clusterMode": "existing" }, "context 'sparkless:clusterArn' is required"],
    [
      {
        ...EXISTING,
        "sparkless:secretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kafka-creds",
      },
      "must be a Secrets Manager secret named AmazonMSK_",
    ],
    [{ ...EXISTING, "sparkless:availabilityZones": "eu-west-1a" }, "one zone per subnet"],
    [{ "sparkless:brokers": "4" }, "must be a multiple of the 3 availability zones"],
    [{ "sparkless:zones": "4" }, "context 'sparkless:zones' must be 3 (or 2"],
    [
      { "sparkless:memoryMb": "64" },
      "context 'sparkless:memoryMb' must be a whole number from 128 to 10240",
    ],
    [{ "sparkless:brokers": "3.5" }, "'sparkless:brokers' must be a whole number"],
    [
      { ...EXISTING, "sparkless:bastion": "true" },
      "'sparkless:bastion' needs 'sparkless:clusterMode=new'",
    ],
    [
      { "sparkless:minPollers": "5", "sparkless:maxPollers": "2" },
      "'sparkless:maxPollers' must be at least",
    ],
    [{ "sparkless:pipeline": "nope" }, "Unknown pipeline 'nope'"],
    [{ "sparkless:alarmEmail": "not-an-address" }, "must be an e-mail address"],
  ])("%j", (context, message) => {
    expect(() => new SparklessStack(new App({ context }), "Bad")).toThrow(ConfigError);
    expect(() => new SparklessStack(new App({ context }), "Bad")).toThrow(message);
  });
});

describe("cfn-lint", () => {
  it("passes on the synthesized templates (both cluster modes, two topics, bastion, IAM)", () => {
    const target = join(cacheDir, "..", "pip", "cfn-lint-1.58.0");
    if (!existsSync(join(target, "cfnlint"))) {
      execFileSync("python3", [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        target,
        "cfn-lint==1.58.0",
      ]);
    }
    const runner = join(mkdtempSync(join(tmpdir(), "cfnlint-")), "run.py");
    writeFileSync(runner, "import sys\nfrom cfnlint.runner import main\nsys.exit(main())\n");
    // W3005: CDK writes DependsOn next to a GetAtt on the same role; harmless and by design.
    const lint = (file: string) =>
      execFileSync("python3", [runner, "--ignore-checks", "W3005", "--", file], {
        env: { ...process.env, PYTHONPATH: target },
        encoding: "utf8",
      });
    const more = [
      synthTemplate("two topics", { ...EXISTING }, twoTopics),
      synth({ "sparkless:bastion": "true", "sparkless:zones": "2", "sparkless:minPollers": "1" }),
      synthTemplate("serverless, IAM", {
        ...Object.fromEntries(
          Object.entries(EXISTING).filter(([key]) => !/secret(Key)?Arn$/.test(key)),
        ),
        "sparkless:clusterType": "serverless",
      }),
    ];
    for (const { file } of [fresh, existing, ...more]) expect(lint(file), file).toBe("");
    // A fresh machine installs cfn-lint first, and five synths share 2 cores with the other
    // projects' servers: minutes, not seconds.
  }, 600_000);
});
