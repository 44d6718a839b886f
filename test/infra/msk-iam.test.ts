import { App } from "aws-cdk-lib";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../infra/config.ts";
import { MAPPING_IAM_ACTIONS } from "../../infra/constructs/kafka-cluster.ts";
import { SparklessStack } from "../../infra/stacks/sparkless-stack.ts";
import {
  type CfnResource,
  type CfnTemplate,
  EXISTING,
  referencedIds,
  resourcesOf,
  type Synthesized,
  synth,
  twoTopics,
} from "./template.ts";

// An existing MSK cluster (provisioned or Serverless) reached with IAM access control instead
// of a SCRAM secret. Nothing here runs MSK: the template's grants are checked against AWS's
// documented lists, and impossible combinations are refused at synth.

const { "sparkless:secretArn": _secret, "sparkless:secretKeyArn": _key, ...NO_SECRET } = EXISTING;
const IAM = { ...NO_SECRET, "sparkless:auth": "iam" };
const SERVERLESS = { ...NO_SECRET, "sparkless:clusterType": "serverless" };
const CLUSTER = EXISTING["sparkless:clusterArn"];
const topicArn = (name: string) => `${CLUSTER.replace(":cluster/", ":topic/")}/${name}`;
const groupArn = (name: string) => `${CLUSTER.replace(":cluster/", ":group/")}/${name}`;

let iam: Synthesized;
let serverless: Synthesized;
let iamTwo: Synthesized;
beforeAll(() => {
  iam = synth("existing provisioned cluster, IAM", IAM);
  serverless = synth("existing Serverless cluster", SERVERLESS);
  iamTwo = synth("existing cluster, IAM, two source topics", IAM, twoTopics);
});

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** Each Allow statement of a function's role, with actions and resources as lists. */
function statementsOf(t: CfnTemplate, functionId: string) {
  const [roleId] = referencedIds((t.Resources[functionId] as CfnResource).Properties?.Role);
  return resourcesOf(t, "AWS::IAM::Policy")
    .filter(([, p]) => referencedIds(p.Properties?.Roles).includes(roleId as string))
    .flatMap(
      ([, p]) =>
        ((p.Properties as Record<string, unknown>).PolicyDocument as { Statement: Statement[] })
          .Statement,
    )
    .filter((s) => s.Effect === "Allow")
    .map((s) => ({ actions: [s.Action].flat(), resources: [s.Resource].flat() as unknown[] }));
}

/** Whether the role may perform `action` on `resource` (exact ARNs; the stack uses no wildcards). */
const allows = (t: CfnTemplate, fnId: string, action: string, resource: string) =>
  statementsOf(t, fnId).some((s) => s.actions.includes(action) && s.resources.includes(resource));

const mappings = (t: CfnTemplate) => resourcesOf(t, "AWS::Lambda::EventSourceMapping");

describe("an existing cluster with IAM access control", () => {
  // https://docs.aws.amazon.com/lambda/latest/dg/with-msk-configure.html (IAM role-based
  // authentication): "If IAM auth is active on your MSK cluster, and you don't provide a secret
  // for auth, Lambda automatically defaults to using IAM auth."
  it("gives the mappings no secret, and the functions no secret to read", () => {
    for (const { name, json } of [iam, serverless, iamTwo]) {
      for (const [id, m] of mappings(json))
        expect(m.Properties?.SourceAccessConfigurations, `${name}: ${id}`).toBeUndefined();
      for (const [id, f] of resourcesOf(json, "AWS::Lambda::Function")) {
        const env = JSON.stringify(f.Properties?.Environment ?? {});
        expect(env, `${name}: ${id}`).not.toContain("KAFKA_SECRET_ARN");
        if (env.includes("MSK_CLUSTER_ARN"))
          expect(env, `${name}: ${id}`).toContain('"MSK_AUTH":"iam"');
      }
      const granted = JSON.stringify(resourcesOf(json, "AWS::IAM::Policy"));
      expect(granted, name).not.toContain("secretsmanager:");
      expect(Object.keys(json.Outputs ?? {}), name).not.toContain("SecretName");
    }
  });

  // https://docs.aws.amazon.com/lambda/latest/dg/msk-cluster-auth.html#msk-iam-auth — the
  // function's execution role needs kafka-cluster:Connect, DescribeGroup, AlterGroup,
  // DescribeTopic, ReadData and DescribeClusterDynamicConfiguration (the sentence itself was not
  // retrievable from the stored docs; the list matches AWS's samples and MSK's action table).
  // https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html — resources:
  // Connect and *Cluster* on the cluster, *Topic*/ReadData/WriteData on the topic, *Group* on the
  // group.
  it("grants each mapping's role the documented kafka-cluster actions on its cluster, topic and group", () => {
    for (const { name, json } of [iam, serverless, iamTwo]) {
      expect(mappings(json).length, name).toBe(name.includes("two") ? 3 : 2);
      for (const [id, m] of mappings(json)) {
        const [fnId] = referencedIds(m.Properties?.FunctionName);
        const [topic] = (m.Properties as Record<string, unknown>).Topics as string[];
        const group = (
          (m.Properties as Record<string, unknown>).AmazonManagedKafkaEventSourceConfig as {
            ConsumerGroupId: string;
          }
        ).ConsumerGroupId;
        const resourceOf: Record<string, string> = {
          "kafka-cluster:Connect": CLUSTER,
          "kafka-cluster:DescribeClusterDynamicConfiguration": CLUSTER,
          "kafka-cluster:DescribeTopic": topicArn(topic as string),
          "kafka-cluster:ReadData": topicArn(topic as string),
          "kafka-cluster:DescribeGroup": groupArn(group),
          "kafka-cluster:AlterGroup": groupArn(group),
        };
        for (const action of MAPPING_IAM_ACTIONS)
          expect(
            allows(json, fnId as string, action, resourceOf[action] as string),
            `${name}: ${id} ${action}`,
          ).toBe(true);
        expect(allows(json, fnId as string, "kafka:DescribeClusterV2", CLUSTER), name).toBe(true);
      }
    }
  });

  // https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html
  // "When you include in your authorization policy an action from the Action column of the table,
  // you must also include the corresponding actions from the Required actions column."
  it("grants with every kafka-cluster action the actions MSK requires with it", () => {
    const REQUIRED: Record<string, readonly string[]> = {
      "kafka-cluster:Connect": [],
      "kafka-cluster:DescribeCluster": ["kafka-cluster:Connect"],
      "kafka-cluster:AlterCluster": ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"],
      "kafka-cluster:DescribeClusterDynamicConfiguration": ["kafka-cluster:Connect"],
      "kafka-cluster:WriteDataIdempotently": ["kafka-cluster:Connect", "kafka-cluster:WriteData"],
      "kafka-cluster:CreateTopic": ["kafka-cluster:Connect"],
      "kafka-cluster:DescribeTopic": ["kafka-cluster:Connect"],
      "kafka-cluster:AlterTopic": ["kafka-cluster:Connect", "kafka-cluster:DescribeTopic"],
      "kafka-cluster:DescribeTopicDynamicConfiguration": ["kafka-cluster:Connect"],
      "kafka-cluster:AlterTopicDynamicConfiguration": [
        "kafka-cluster:Connect",
        "kafka-cluster:DescribeTopicDynamicConfiguration",
      ],
      "kafka-cluster:ReadData": [
        "kafka-cluster:Connect",
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:AlterGroup",
      ],
      "kafka-cluster:WriteData": ["kafka-cluster:Connect", "kafka-cluster:DescribeTopic"],
      "kafka-cluster:DescribeGroup": ["kafka-cluster:Connect"],
      "kafka-cluster:AlterGroup": ["kafka-cluster:Connect", "kafka-cluster:DescribeGroup"],
    };
    for (const { name, json } of [iam, serverless, iamTwo]) {
      let checked = 0;
      for (const [fnId] of resourcesOf(json, "AWS::Lambda::Function")) {
        const granted = new Set(statementsOf(json, fnId).flatMap((s) => s.actions));
        for (const action of granted) {
          if (!action.startsWith("kafka-cluster:")) continue;
          const required = REQUIRED[action];
          expect(required, `${name}: ${fnId} ${action} is not in MSK's table`).toBeDefined();
          for (const r of required ?? [])
            expect(granted.has(r), `${name}: ${fnId} ${action} needs ${r}`).toBe(true);
          checked += 1;
        }
      }
      expect(checked, name).toBeGreaterThan(10);
    }
  });

  it("lets the functions produce idempotently to the pipeline's own topics, and nothing else", () => {
    const own = [
      "user-spending.repartition",
      "user-spending",
      "user-spending.dlq",
      "user-spending.late",
    ];
    for (const [fnId, f] of resourcesOf(iam.json, "AWS::Lambda::Function")) {
      if (!JSON.stringify(f.Properties?.Environment ?? {}).includes("PIPELINE_NAME")) continue;
      expect(allows(iam.json, fnId, "kafka-cluster:WriteDataIdempotently", CLUSTER), fnId).toBe(
        true,
      );
      for (const topic of own)
        expect(
          allows(iam.json, fnId, "kafka-cluster:WriteData", topicArn(topic)),
          `${fnId} ${topic}`,
        ).toBe(true);
      expect(
        allows(iam.json, fnId, "kafka-cluster:WriteData", topicArn("transactions")),
        fnId,
      ).toBe(false);
    }
  });

  it("lets the topics resource create and configure the pipeline's topics and see the sources", () => {
    const [[handlerId] = []] = resourcesOf(iam.json, "AWS::Lambda::Function").filter(([, f]) =>
      String(f.Properties?.Description ?? "").includes("topics"),
    );
    for (const action of ["CreateTopic", "AlterTopic", "AlterTopicDynamicConfiguration"])
      expect(
        allows(iam.json, handlerId as string, `kafka-cluster:${action}`, topicArn("user-spending")),
        action,
      ).toBe(true);
    expect(
      allows(
        iam.json,
        handlerId as string,
        "kafka-cluster:DescribeTopic",
        topicArn("transactions"),
      ),
    ).toBe(true);
    expect(
      allows(iam.json, handlerId as string, "kafka-cluster:CreateTopic", topicArn("transactions")),
    ).toBe(false);
  });

  it("prints the IAM broker string in the outputs", () => {
    expect(JSON.stringify(iam.json.Outputs?.BootstrapBrokersCommand)).toContain(
      "BootstrapBrokerStringSaslIam",
    );
  });
});

describe("impossible combinations fail synth with a message", () => {
  // https://docs.aws.amazon.com/msk/latest/developerguide/serverless.html — MSK Serverless
  // clusters use IAM access control only.
  it.each([
    [
      { ...EXISTING, "sparkless:clusterType": "serverless" },
      "MSK Serverless accepts IAM access control only",
    ],
    [
      { ...EXISTING, "sparkless:clusterType": "serverless", "sparkless:auth": "scram" },
      "MSK Serverless accepts IAM access control only",
    ],
    [
      { ...IAM, "sparkless:secretArn": EXISTING["sparkless:secretArn"] },
      "'sparkless:secretArn' is not used with 'sparkless:auth=iam'",
    ],
    [{ "sparkless:auth": "iam" }, "'sparkless:auth=iam' needs 'sparkless:clusterMode=existing'"],
    [
      { "sparkless:clusterType": "serverless" },
      "'sparkless:clusterType=serverless' needs 'sparkless:clusterMode=existing'",
    ],
    [{ ...NO_SECRET, "sparkless:auth": "oauth" }, "'sparkless:auth' must be 'scram' or 'iam'"],
    [
      { ...NO_SECRET, "sparkless:clusterType": "express" },
      "'sparkless:clusterType' must be 'provisioned' or 'serverless'",
    ],
  ])("%j", (context, message) => {
    expect(() => new SparklessStack(new App({ context }), "Bad")).toThrow(ConfigError);
    expect(() => new SparklessStack(new App({ context }), "Bad")).toThrow(message);
  });
});
