import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { cacheDir } from "../../localstack/paths.ts";
import { definePipeline } from "../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../shared/pipelines/user-spending.ts";
import { EXISTING, resourcesOf, synth } from "./template.ts";

const patterned = definePipeline({
  ...userSpending.definition,
  name: "events",
  source: { ...userSpending.definition.source, topics: undefined, topicPattern: "events-.*" },
});

describe("a pattern source in the stack", () => {
  const { template, json } = synth("pattern", { ...EXISTING }, patterned);

  it("maps no source topic itself: the subscriber does, at deploy and every minute", () => {
    const mappings = resourcesOf(json, "AWS::Lambda::EventSourceMapping");
    expect(mappings.map(([, m]) => m.Properties?.Topics)).toEqual([["events.repartition"]]);
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          TOPIC_PATTERN: "^(?:events-.*)$",
          GROUP_PREFIX: "sparkless-events-parse-filter-",
          TARGET_FUNCTION: Match.anyValue(),
        }),
      },
    });
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      Description: Match.stringLikeRegexp("newly matching"),
    });
    // The deploy-time pass runs after the topics resource (and the groups' grants).
    const [[topicsId]] = resourcesOf(json, "Custom::SparklessTopics") as [[string, unknown]];
    const [[, subscriptions]] = resourcesOf(
      json,
      "Custom::SparklessPatternSubscriptions",
    ) as unknown as [[string, { DependsOn?: string[] }]];
    expect(subscriptions.DependsOn).toContain(topicsId);
  });

  // https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html:
  // MaximumBatchingWindowInSeconds "to any value from 0 seconds to 300 seconds in increments of
  // seconds"; the subscriber creates its mappings after deploy, so a bad value must stop the synth.
  it("refuses at synth a source batching window its mappings could not take", () => {
    const halfSeconds = definePipeline({
      ...patterned.definition,
      source: { ...patterned.definition.source, maxBatchingWindow: "1500 ms" },
      repartitionBatchingWindow: "1 s", // the window mapping's is valid: only the source is wrong
    });
    expect(() => synth("pattern, 1.5 s window", { ...EXISTING }, halfSeconds)).toThrow(
      /source.maxBatchingWindow: 1500 ms.*whole seconds/,
    );
  });

  it("gives each mapping the stack's settings and never a destination or retry cap", () => {
    const fn = resourcesOf(json, "AWS::Lambda::Function").find(
      ([, f]) =>
        (f.Properties?.Environment as { Variables?: Record<string, unknown> })?.Variables
          ?.TOPIC_PATTERN !== undefined,
    );
    const env = fn?.[1].Properties?.Environment as { Variables: { MAPPING_SETTINGS: unknown } };
    const raw = env.Variables.MAPPING_SETTINGS;
    const text = JSON.stringify(raw);
    expect(text).toContain('\\"BatchSize\\":10000');
    expect(text).toContain('\\"MaximumBatchingWindowInSeconds\\":0'); // the default's 0 s
    expect(text).toContain('\\"StartingPosition\\":\\"TRIM_HORIZON\\"');
    expect(text).toContain("SASL_SCRAM_512_AUTH");
    expect(text).not.toMatch(/DestinationConfig|MaximumRetryAttempts|MaximumRecordAge/);
  });

  // Least privilege as Lambda allows it: CreateEventSourceMapping has no resource type, only the
  // lambda:FunctionArn condition; DeleteEventSourceMapping takes the mapping ARN and the condition.
  // https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
  it("may create and delete mappings of the parse/filter function only", () => {
    const policies = resourcesOf(json, "AWS::IAM::Policy").flatMap(
      ([, p]) =>
        (p.Properties as { PolicyDocument: { Statement: Array<Record<string, unknown>> } })
          .PolicyDocument.Statement,
    );
    const create = policies.find((s) => s.Action === "lambda:CreateEventSourceMapping");
    const remove = policies.find((s) => s.Action === "lambda:DeleteEventSourceMapping");
    for (const statement of [create, remove]) {
      expect(statement?.Condition).toEqual({
        StringEquals: {
          "lambda:FunctionArn": {
            "Fn::GetAtt": [expect.stringMatching(/^FunctionsParseFilter/), "Arn"],
          },
        },
      });
    }
    expect(JSON.stringify(remove?.Resource)).toContain(":event-source-mapping:*");
    expect(
      policies.some(
        (s) =>
          JSON.stringify(s.Action).includes("lambda:") && JSON.stringify(s.Action).includes("*"),
      ),
    ).toBe(false);
  });

  it("on an IAM cluster: mappings without a secret; the parse/filter role may read any topic but only the pattern's groups", () => {
    const { "sparkless:secretArn": _s, "sparkless:secretKeyArn": _k, ...noSecret } = EXISTING;
    const iam = synth("pattern-iam", { ...noSecret, "sparkless:auth": "iam" }, patterned);
    const text = JSON.stringify(iam.json);
    expect(text).not.toContain("SASL_SCRAM_512_AUTH");
    expect(text).toContain(
      ":group/prod-kafka/11111111-2222-3333-4444-555555555555-1/sparkless-events-parse-filter-*",
    );
  });

  it("passes cfn-lint (with the reprocessing template of per-partition offsets)", () => {
    const target = join(cacheDir, "..", "pip", "cfn-lint-1.58.0");
    if (!existsSync(join(target, "cfnlint"))) {
      execFileSync("python3", [
        ...["-m", "pip", "install", "--quiet", "--disable-pip-version-check"],
        ...["--target", target, "cfn-lint==1.58.0"],
      ]);
    }
    const runner = join(mkdtempSync(join(tmpdir(), "cfnlint-")), "run.py");
    writeFileSync(runner, "import sys\nfrom cfnlint.runner import main\nsys.exit(main())\n");
    const offsets = synth("g2 offsets", {
      ...EXISTING,
      "sparkless:generation": "2",
      "sparkless:startFrom": '{"transactions":{"0":5,"1":-2,"2":-1}}',
    });
    // W3005 as in stack.test.ts: CDK's DependsOn next to a GetAtt on the same role.
    for (const file of [synth("pattern", { ...EXISTING }, patterned).file, offsets.file]) {
      const out = execFileSync("python3", [runner, "--ignore-checks", "W3005", "--", file], {
        env: { ...process.env, PYTHONPATH: target },
        encoding: "utf8",
      });
      expect(out, file).toBe("");
    }
  }, 300_000);

  it("refuses per-partition offsets with a pattern at synth", () => {
    const withOffsets = definePipeline({
      ...patterned.definition,
      source: {
        topicPattern: "events-.*",
        startingPosition: { offsets: { "events-1": { 0: 1 } } },
      },
    });
    expect(() => synth("bad", { ...EXISTING }, withOffsets)).toThrow(
      "per-partition offsets with a topicPattern are not deployed",
    );
  });
});
