import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { definePipeline } from "../../shared/pipeline/pipeline.ts";
import { userSpending } from "../../shared/pipelines/user-spending.ts";
import { EXISTING, resourcesOf, synth, twoTopics } from "./template.ts";

const withOffsets = definePipeline({
  ...twoTopics.definition,
  source: {
    ...twoTopics.definition.source,
    startingPosition: { offsets: { transactions: { 0: 23, 1: -2 }, refunds: { 0: -1 } } },
  },
});

describe("per-partition starting offsets in the stack", () => {
  it("commits each source mapping's offsets on its group in the topics resource, which every mapping depends on", () => {
    // GIVEN a pipeline starting from Spark's offsets JSON
    const { template, json } = synth("offsets", { ...EXISTING }, withOffsets);

    // THEN the topics resource carries one entry per source mapping's consumer group
    template.hasResourceProperties("Custom::SparklessTopics", {
      GroupOffsets: [
        {
          GroupId: "sparkless-two-topics-parse-filter-transactions",
          Offsets: JSON.stringify({ transactions: { 0: 23, 1: -2 } }),
        },
        {
          GroupId: "sparkless-two-topics-parse-filter-refunds",
          Offsets: JSON.stringify({ refunds: { 0: -1 } }),
        },
      ],
    });
    // AND every mapping is created after it: Lambda ignores StartingPosition once the group has
    // committed offsets (https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html),
    // so the offsets must be there before the mapping first joins.
    const [[topicsId]] = resourcesOf(json, "Custom::SparklessTopics") as [[string, unknown]];
    const mappings = resourcesOf(json, "AWS::Lambda::EventSourceMapping");
    expect(mappings).toHaveLength(3);
    for (const [id, mapping] of mappings) {
      expect([mapping.DependsOn].flat(), id).toContain(topicsId);
    }
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      Topics: ["transactions"],
      StartingPosition: "TRIM_HORIZON",
    });
  });

  it("has no offsets step for a pipeline that starts at earliest", () => {
    const { template } = synth("earliest", { ...EXISTING });
    template.hasResourceProperties("Custom::SparklessTopics", { GroupOffsets: [] });
  });
});

describe("a reprocessing deploy (sparkless:generation)", () => {
  it("names groups, topics and state after the generation and starts where told", () => {
    const { template } = synth("g2", {
      ...EXISTING,
      "sparkless:generation": "2",
      "sparkless:startFrom": "2026-11-30T12:00:00Z",
      "sparkless:outputTopic": "user-spending-rerun",
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      Topics: ["transactions"],
      AmazonManagedKafkaEventSourceConfig: {
        ConsumerGroupId: "sparkless-user-spending-g2-parse-filter-transactions",
      },
      StartingPosition: "AT_TIMESTAMP",
      StartingPositionTimestamp: Date.UTC(2026, 10, 30, 12) / 1000,
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      Topics: ["user-spending-g2.repartition"],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: "sparkless-user-spending-g2-window" },
    });
    template.hasResourceProperties("Custom::SparklessTopics", {
      Topics: Match.arrayWith([Match.objectLike({ topic: "user-spending-rerun" })]),
    });
    // The old generation's mappings are not in the template: the deploy removes them.
    expect(JSON.stringify(template.toJSON())).not.toContain(
      '"sparkless-user-spending-parse-filter-transactions"',
    );
  });

  it("accepts offsets JSON as the start", () => {
    const { template } = synth("g3", {
      ...EXISTING,
      "sparkless:generation": "3",
      "sparkless:startFrom": '{"transactions":{"0":5,"1":-2,"2":-1}}',
    });
    template.hasResourceProperties("Custom::SparklessTopics", {
      GroupOffsets: [
        {
          GroupId: "sparkless-user-spending-g3-parse-filter-transactions",
          Offsets: JSON.stringify({ transactions: { 0: 5, 1: -2, 2: -1 } }),
        },
      ],
    });
  });

  it.each([
    [{ "sparkless:startFrom": "earliest" }, "also set 'sparkless:generation'"],
    [{ "sparkless:generation": "0" }, "whole number from 1 to 9999"],
    [{ "sparkless:generation": "2", "sparkless:startFrom": "yesterday" }, "must be 'earliest'"],
    [
      { "sparkless:generation": "2", "sparkless:startFrom": '{"other":{"0":1}}' },
      "'other', which is not a source topic",
    ],
  ])("refuses %j at synth", (context, message) => {
    expect(() => synth("bad", { ...EXISTING, ...context })).toThrow(message);
  });

  it("keeps generation 1 as deployed before (same groups)", () => {
    expect(userSpending.name).toBe("user-spending");
    const { template } = synth("g1", { ...EXISTING, "sparkless:generation": "1" });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      AmazonManagedKafkaEventSourceConfig: {
        ConsumerGroupId: "sparkless-user-spending-parse-filter-transactions",
      },
    });
  });
});
