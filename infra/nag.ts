import { type Stack, Validations } from "aws-cdk-lib";

/**
 * cdk-nag AwsSolutions findings this stack accepts, each with the reason. Everything else the
 * pack reports fails `cdk synth` and the infra tests.
 */
const ACKNOWLEDGED: ReadonlyArray<{ id: string; reason: string }> = [
  {
    id: "AwsSolutions-EC23",
    reason:
      "The client security group admits only itself (9096, 443); the rule cannot read the self-reference token and errs, there is no 0.0.0.0/0 ingress.",
  },
  {
    id: "AwsSolutions-SMG4",
    reason:
      "The MSK SCRAM secret is rotated by updating it and re-associating it with the cluster; automatic rotation would change the password under running consumers.",
  },
  ...["AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole"].map((policy) => ({
    id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
    reason: `${policy} is AWS's minimal policy for logs and VPC network interfaces, which functions in a VPC and MSK event-source mappings need.`,
  })),
  {
    id: "AwsSolutions-IAM5[Resource::<TopicsHandler363E07A6.Arn>:*]",
    reason: "The CDK custom-resource provider invokes any version of its own handler function.",
  },
  {
    id: "AwsSolutions-L1",
    reason:
      "nodejs22.x on purpose: the runtime the project is built and tested on (its own Node 22).",
  },
  {
    id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole]",
    reason:
      "AWS documents AWSLambdaMSKExecutionRole as the minimum an MSK event-source mapping needs from its function's role (with-msk-permissions.html); its ec2:Describe* actions take no resource.",
  },
  {
    id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
    reason:
      "The optional bastion is reached only through Session Manager, which needs this policy.",
  },
  {
    id: "AwsSolutions-EC29",
    reason:
      "The optional bastion keeps no state (a tunnel to the brokers); deleting it with the stack is intended.",
  },
];

/** Records the accepted findings on the stack. */
export function acknowledgeNagFindings(stack: Stack): void {
  for (const finding of ACKNOWLEDGED) Validations.of(stack).acknowledge(finding);
}
