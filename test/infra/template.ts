import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { SparklessStack } from "../../infra/stacks/sparkless-stack.ts";
import { definePipeline, type Pipeline } from "../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../shared/pipelines/user-spending.ts";

/** Context of an existing provisioned cluster reached with SASL/SCRAM (synth does no lookups). */
export const EXISTING = {
  "sparkless:clusterMode": "existing",
  "sparkless:clusterArn":
    "arn:aws:kafka:eu-west-1:123456789012:cluster/prod-kafka/11111111-2222-3333-4444-555555555555-1",
  "sparkless:secretArn":
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_sparkless-AbCdEf",
  "sparkless:secretKeyArn":
    "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555",
  "sparkless:vpcId": "vpc-0123456789abcdef0",
  "sparkless:subnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
  "sparkless:availabilityZones": "eu-west-1a,eu-west-1b",
  "sparkless:securityGroupId": "sg-0123456789abcdef0",
} as const;

/** The default pipeline reading two source topics: one mapping (and consumer group) per topic. */
export const twoTopics: Pipeline = definePipeline({
  ...userSpending.definition,
  name: "two-topics",
  source: { ...userSpending.definition.source, topics: ["transactions", "refunds"] },
});

export interface Synthesized {
  readonly name: string;
  readonly template: Template;
  /** The template as CloudFormation JSON. */
  readonly json: CfnTemplate;
  /** Path of the synthesized template file (for cfn-lint). */
  readonly file: string;
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

/** Synthesizes the stack offline with cdk-nag's AwsSolutions pack; a finding not acknowledged throws. */
export function synth(
  name: string,
  context: Record<string, string> = {},
  pipeline?: Pipeline,
): Synthesized {
  const app = new App({ context, outdir: mkdtempSync(join(tmpdir(), "sparkless-cdk-")) });
  const stack = new SparklessStack(app, "Sparkless", pipeline ? { pipeline } : {});
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  const template = Template.fromStack(stack);
  return {
    name,
    template,
    json: template.toJSON() as CfnTemplate,
    file: join(assembly.directory, stack.templateFile),
  };
}

/** Resources of one type, by logical id. */
export function resourcesOf(t: CfnTemplate, type: string): Array<[string, CfnResource]> {
  return Object.entries(t.Resources).filter(([, r]) => r.Type === type);
}

/** Logical ids a value refers to through Ref or Fn::GetAtt. */
export function referencedIds(value: unknown): string[] {
  const ids: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [key, inner] of Object.entries(v)) {
        if (key === "Ref" && typeof inner === "string") ids.push(inner);
        else if (key === "Fn::GetAtt" && Array.isArray(inner)) ids.push(String(inner[0]));
        else walk(inner);
      }
    }
  };
  walk(value);
  return ids;
}

/** Whether CloudFormation creates `target` before `id` (DependsOn, Ref, GetAtt, transitively). */
export function createdAfter(t: CfnTemplate, id: string, target: string): boolean {
  const seen = new Set<string>();
  const queue = [id];
  while (queue.length > 0) {
    const current = queue.shift() as string;
    const resource = t.Resources[current];
    if (!resource || seen.has(current)) continue;
    seen.add(current);
    const next = [
      ...[resource.DependsOn ?? []].flat(),
      ...referencedIds(resource.Properties ?? {}),
    ];
    if (next.includes(target)) return true;
    queue.push(...next);
  }
  return false;
}
