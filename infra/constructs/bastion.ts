import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import type { SparklessVpc } from "./kafka-cluster.ts";

export interface BastionProps {
  readonly network: SparklessVpc;
  /** The brokers' client security group: the bastion joins it to reach port 9096. */
  readonly securityGroup: ec2.ISecurityGroup;
}

/**
 * A small instance in the new cluster's isolated subnets that Session Manager reaches without
 * any inbound rule or internet route, so a workstation can tunnel to the brokers through it (see
 * README § Deploy). Session Manager needs the ssm, ssmmessages and ec2messages endpoints in a VPC
 * without internet access; they are added only with the bastion.
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html
 */
export class Bastion extends Construct {
  readonly instance: ec2.Instance;

  constructor(scope: Construct, id: string, props: BastionProps) {
    super(scope, id);
    props.network.addInterfaceEndpoints(props.securityGroup, {
      Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
      SsmMessages: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
      Ec2Messages: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
    });
    const role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com"),
      description: "sparkless bastion: Session Manager only",
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName("AmazonSSMManagedInstanceCore")],
    });
    this.instance = new ec2.Instance(this, "Instance", {
      vpc: props.network.vpc,
      vpcSubnets: props.network.subnets,
      securityGroup: props.securityGroup,
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.NANO),
      // Resolved from SSM's public parameter at deploy time: synth stays offline.
      machineImage: ec2.MachineImage.latestAmazonLinux2023({
        cpuType: ec2.AmazonLinuxCpuType.ARM_64,
      }),
      role,
      requireImdsv2: true,
      detailedMonitoring: true,
      blockDevices: [
        {
          deviceName: "/dev/xvda",
          volume: ec2.BlockDeviceVolume.ebs(8, { encrypted: true }),
        },
      ],
    });
  }
}
