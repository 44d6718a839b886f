import { Fn, RemovalPolicy, Token } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as msk from "aws-cdk-lib/aws-msk";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct, DependencyGroup, type IDependable } from "constructs";
import type { ExistingCluster, NewCluster } from "../config.ts";

/** MSK's SASL/SCRAM over TLS listener. https://docs.aws.amazon.com/msk/latest/developerguide/port-info.html */
export const SCRAM_TLS_PORT = 9096;

/** How the mappings and functions log in: a SCRAM secret, or IAM access control (no secret). */
export type KafkaLogin =
  | {
      readonly kind: "scram";
      readonly secret: secretsmanager.ISecret;
      /** The secret's name (what `aws secretsmanager get-secret-value --secret-id` takes). */
      readonly secretName: string;
      readonly secretKey: kms.IKey;
    }
  | { readonly kind: "iam" };

/** What a principal does on the cluster's topics and consumer groups (names, not ARNs). */
export interface KafkaAccess {
  /** Topics read through a consumer group (an event-source mapping's). */
  readonly consume?: { readonly topics: readonly string[]; readonly groups: readonly string[] };
  /** Topics written with an idempotent producer. */
  readonly produce?: readonly string[];
  /** Topics created, extended and configured (the topics custom resource). */
  readonly administer?: readonly string[];
  /** Topics only looked at (a required source topic). */
  readonly describe?: readonly string[];
}

/**
 * The `kafka-cluster:*` actions of the roles Lambda documents for an MSK event source with IAM
 * access control ("IAM role-based authentication"), on the cluster, the topic and the group.
 * https://docs.aws.amazon.com/lambda/latest/dg/msk-cluster-auth.html#msk-iam-auth
 */
export const MAPPING_IAM_ACTIONS = [
  "kafka-cluster:Connect",
  "kafka-cluster:DescribeGroup",
  "kafka-cluster:AlterGroup",
  "kafka-cluster:DescribeTopic",
  "kafka-cluster:ReadData",
  "kafka-cluster:DescribeClusterDynamicConfiguration",
] as const;

export interface KafkaClusterProps {
  readonly cluster: NewCluster | ExistingCluster;
  /** Name prefix for the cluster and its secret. */
  readonly name: string;
}

/**
 * The MSK cluster the pipeline reads and writes, with what the functions need to reach it: a new
 * provisioned cluster (SASL/SCRAM client authentication only, TLS to clients and between brokers,
 * storage and secret encrypted with a customer-managed key, brokers in private subnets), or an
 * existing one given by ARN and secret. Either way `vpc`, `subnets` and `securityGroup` say where
 * the functions run, and `secret` holds the SCRAM credentials.
 */
export class KafkaCluster extends Construct {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** Admitted by the brokers on 9096; the functions and the mappings' pollers use it. */
  readonly securityGroup: ec2.ISecurityGroup;
  readonly clusterArn: string;
  readonly clusterName: string;
  readonly login: KafkaLogin;
  /**
   * What must exist before anything logs in to Kafka: the association of the SCRAM secret with
   * a new cluster (a login before it fails, and kafkajs does not retry a failed authentication).
   * Empty for an existing cluster, whose secret is associated already.
   */
  readonly loginReady: IDependable;
  /** The VPC's own construct for a new cluster (endpoints, bastion); undefined for an existing one. */
  readonly network: SparklessVpc | undefined;

  constructor(scope: Construct, id: string, props: KafkaClusterProps) {
    super(scope, id);
    const { cluster } = props;
    if (cluster.mode === "existing") {
      this.vpc = ec2.Vpc.fromVpcAttributes(this, "Vpc", {
        vpcId: cluster.vpcId,
        availabilityZones: [...cluster.availabilityZones],
        privateSubnetIds: [...cluster.subnetIds],
      });
      this.subnets = {
        subnets: cluster.subnetIds.map((id, i) => ec2.Subnet.fromSubnetId(this, `Subnet${i}`, id)),
      };
      this.securityGroup = ec2.SecurityGroup.fromSecurityGroupId(
        this,
        "SecurityGroup",
        cluster.securityGroupId,
      );
      this.clusterArn = cluster.clusterArn;
      this.clusterName = cluster.clusterName;
      if (cluster.login.kind === "scram") {
        const { secretArn, secretKeyArn } = cluster.login;
        this.login = {
          kind: "scram",
          secret: secretsmanager.Secret.fromSecretCompleteArn(this, "Secret", secretArn),
          // A complete secret ARN ends in the name plus "-" and six random characters.
          secretName: (secretArn.split(":secret:")[1] ?? "").replace(/-[A-Za-z0-9]{6}$/, ""),
          secretKey: kms.Key.fromKeyArn(this, "SecretKey", secretKeyArn),
        };
      } else {
        this.login = { kind: "iam" };
      }
      this.loginReady = new DependencyGroup();
      this.network = undefined;
      return;
    }

    const vpc = new SparklessVpc(this, "Network", cluster.zones);
    this.network = vpc;
    this.vpc = vpc.vpc;
    this.subnets = vpc.subnets;
    const securityGroup = new ec2.SecurityGroup(this, "ClientSecurityGroup", {
      vpc: this.vpc,
      description:
        "sparkless functions and event-source mapping pollers: the only clients of the brokers",
      allowAllOutbound: true,
    });
    // The mappings' pollers run with the cluster's security groups, so the group admits itself.
    // https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html
    securityGroup.addIngressRule(
      securityGroup,
      ec2.Port.tcp(SCRAM_TLS_PORT),
      "SASL/SCRAM over TLS from sparkless clients",
    );
    securityGroup.addIngressRule(
      securityGroup,
      ec2.Port.tcp(443),
      "VPC endpoints (Lambda, STS, Secrets Manager, MSK)",
    );
    this.securityGroup = securityGroup;
    vpc.addInterfaceEndpoints(securityGroup);

    const key = new kms.Key(this, "Key", {
      description: "sparkless: MSK storage and the SCRAM secret",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // MSK only accepts SCRAM secrets named AmazonMSK_… and encrypted with a customer-managed key.
    // https://docs.aws.amazon.com/msk/latest/developerguide/msk-password.html
    const secretName = `AmazonMSK_${props.name}`;
    const secret = new secretsmanager.Secret(this, "ScramSecret", {
      secretName,
      description: "SCRAM-SHA-512 credentials of the sparkless functions",
      encryptionKey: key,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: "sparkless" }),
        generateStringKey: "password",
        excludePunctuation: true,
        passwordLength: 32,
      },
    });
    const brokerLogs = new logs.LogGroup(this, "BrokerLogs", {
      retention: logs.RetentionDays.ONE_MONTH,
    });
    this.clusterName = props.name;
    const resource = new msk.CfnCluster(this, "Cluster", {
      clusterName: props.name,
      kafkaVersion: cluster.kafkaVersion,
      numberOfBrokerNodes: cluster.brokers,
      brokerNodeGroupInfo: {
        instanceType: cluster.instanceType,
        clientSubnets: this.vpc.selectSubnets(this.subnets).subnetIds,
        securityGroups: [securityGroup.securityGroupId],
        storageInfo: { ebsStorageInfo: { volumeSize: cluster.volumeGiB } },
      },
      clientAuthentication: {
        sasl: { scram: { enabled: true } },
        unauthenticated: { enabled: false },
      },
      encryptionInfo: {
        encryptionInTransit: { clientBroker: "TLS", inCluster: true },
        encryptionAtRest: { dataVolumeKmsKeyId: key.keyArn },
      },
      loggingInfo: {
        brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: brokerLogs.logGroupName } },
      },
    });
    this.clusterArn = resource.attrArn;
    // https://docs.aws.amazon.com/msk/latest/developerguide/msk-password-tutorial.html
    this.loginReady = new msk.CfnBatchScramSecret(this, "ScramSecretAssociation", {
      clusterArn: resource.attrArn,
      secretArnList: [secret.secretArn],
    });
    this.login = { kind: "scram", secret, secretName, secretKey: key };
  }

  /** The environment a function needs to log in (read by `shared/kafka/msk-connection.ts`). */
  kafkaEnvironment(): Record<string, string> {
    return {
      MSK_CLUSTER_ARN: this.clusterArn,
      MSK_AUTH: this.login.kind,
      ...(this.login.kind === "scram" ? { KAFKA_SECRET_ARN: this.login.secret.secretArn } : {}),
    };
  }

  /**
   * Grants a principal what logging in and `access` need: the SCRAM secret and its key, or the
   * `kafka-cluster:*` actions on the cluster, topics and groups (with the actions each requires,
   * per MSK's table), and `GetBootstrapBrokers` to find the brokers either way.
   * https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html
   */
  grantKafkaAccess(grantee: iam.IGrantable, access: KafkaAccess): void {
    const statement = (actions: string[], resources: string[]) =>
      grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));
    statement(["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"], [this.clusterArn]);
    if (this.login.kind === "scram") {
      this.login.secret.grantRead(grantee);
      this.login.secretKey.grantDecrypt(grantee);
      return;
    }
    const topic = (name: string) => this.resourceArn("topic", name);
    const group = (name: string) => this.resourceArn("group", name);
    const { consume, produce = [], administer = [], describe = [] } = access;
    const clusterActions = ["kafka-cluster:Connect"];
    if (consume) {
      clusterActions.push("kafka-cluster:DescribeClusterDynamicConfiguration");
      statement(
        ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"],
        consume.topics.map(topic),
      );
      statement(
        ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"],
        consume.groups.map(group),
      );
    }
    if (produce.length > 0) {
      clusterActions.push("kafka-cluster:WriteDataIdempotently");
      statement(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], produce.map(topic));
    }
    if (administer.length > 0) {
      clusterActions.push("kafka-cluster:DescribeCluster");
      statement(
        [
          "kafka-cluster:CreateTopic",
          "kafka-cluster:DescribeTopic",
          "kafka-cluster:AlterTopic",
          "kafka-cluster:DescribeTopicDynamicConfiguration",
          "kafka-cluster:AlterTopicDynamicConfiguration",
        ],
        administer.map(topic),
      );
    }
    if (describe.length > 0) statement(["kafka-cluster:DescribeTopic"], describe.map(topic));
    statement(clusterActions, [this.clusterArn]);
  }

  /**
   * A topic's or group's ARN: the cluster's with `topic/` or `group/` for `cluster/`, then the
   * name. https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html#msk-iam-resources
   */
  private resourceArn(kind: "topic" | "group", name: string): string {
    if (Token.isUnresolved(this.clusterArn))
      throw new Error(
        "kafka-cluster resources need the cluster ARN at synth (an existing cluster)",
      );
    return `${this.clusterArn.replace(":cluster/", `:${kind}/`)}/${name}`;
  }
}

/**
 * A VPC for a new cluster: private isolated subnets in three zones (or two), no NAT gateway.
 * What must be reached from inside — Lambda, STS and Secrets Manager for the event-source
 * mappings, MSK's API for the functions, DynamoDB — is reached through VPC endpoints: no internet
 * path at all, and cheaper than a NAT gateway's hourly and per-GB charges at this traffic.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html
 */
export class SparklessVpc extends Construct {
  readonly vpc: ec2.Vpc;
  readonly subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

  constructor(scope: Construct, id: string, zones: 2 | 3) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, "Vpc", {
      // The region's first zones, resolved at deploy time: synth stays offline (no AZ lookup),
      // and an environment-agnostic stack would otherwise get only two.
      availabilityZones: Array.from({ length: zones }, (_, i) => Fn.select(i, Fn.getAzs())),
      natGateways: 0,
      subnetConfiguration: [
        { name: "private", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 },
      ],
      gatewayEndpoints: { DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
      flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs() } },
    });
  }

  addInterfaceEndpoints(
    securityGroup: ec2.ISecurityGroup,
    services: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      Lambda: ec2.InterfaceVpcEndpointAwsService.LAMBDA,
      Sts: ec2.InterfaceVpcEndpointAwsService.STS,
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Kafka: new ec2.InterfaceVpcEndpointAwsService("kafka"),
    },
  ): void {
    for (const [name, service] of Object.entries(services)) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: this.subnets,
        securityGroups: [securityGroup],
        privateDnsEnabled: true,
      });
    }
  }
}
