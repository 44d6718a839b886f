import { Fn, RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as msk from "aws-cdk-lib/aws-msk";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct, DependencyGroup, type IDependable } from "constructs";
import type { ExistingCluster, NewCluster } from "../config.ts";

/** MSK's SASL/SCRAM over TLS listener. https://docs.aws.amazon.com/msk/latest/developerguide/port-info.html */
export const SCRAM_TLS_PORT = 9096;

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
  readonly secret: secretsmanager.ISecret;
  /** The secret's name (what `aws secretsmanager get-secret-value --secret-id` takes). */
  readonly secretName: string;
  readonly secretKey: kms.IKey;
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
      this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, "Secret", cluster.secretArn);
      // A complete secret ARN ends in the name plus "-" and six random characters.
      this.secretName = (cluster.secretArn.split(":secret:")[1] ?? "").replace(
        /-[A-Za-z0-9]{6}$/,
        "",
      );
      this.secretKey = kms.Key.fromKeyArn(this, "SecretKey", cluster.secretKeyArn);
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
    this.secretKey = key;
    // MSK only accepts SCRAM secrets named AmazonMSK_… and encrypted with a customer-managed key.
    // https://docs.aws.amazon.com/msk/latest/developerguide/msk-password.html
    this.secretName = `AmazonMSK_${props.name}`;
    this.secret = new secretsmanager.Secret(this, "ScramSecret", {
      secretName: this.secretName,
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
      secretArnList: [this.secret.secretArn],
    });
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
