import { LambdaClient } from "@aws-sdk/client-lambda";
import { describe, expect, it } from "vitest";
import { lambdaKafkaMappings, mappingSettingsFor } from "../../../shared/lambda/kafka-mappings.ts";

describe("mappingSettingsFor", () => {
  const json = JSON.stringify({
    BatchSize: 2000,
    StartingPosition: "AT_TIMESTAMP",
    StartingPositionTimestamp: 1_764_504_000,
  });

  it("gives topics found at deploy the pipeline's start, as the Date the SDK takes", () => {
    expect(mappingSettingsFor(json, false)).toEqual({
      BatchSize: 2000,
      StartingPosition: "AT_TIMESTAMP",
      StartingPositionTimestamp: new Date(1_764_504_000_000),
    });
  });

  it("starts topics found later at their earliest offset, as Spark does", () => {
    expect(mappingSettingsFor(json, true)).toEqual({
      BatchSize: 2000,
      StartingPosition: "TRIM_HORIZON",
    });
  });
});

describe("lambdaKafkaMappings", () => {
  // A stand-in for the SDK client that records the commands (pure unit test, no network).
  function client(pages: unknown[]) {
    const sent: Array<{ name: string; input: unknown }> = [];
    // A real client (the paginator checks the class) whose send never reaches the network.
    const fake = new LambdaClient({ region: "eu-west-1" });
    fake.send = (async (command: { constructor: { name: string }; input: unknown }) => {
      sent.push({ name: command.constructor.name, input: command.input });
      if (command.constructor.name === "ListEventSourceMappingsCommand") return pages.shift();
      return { UUID: "new-uuid" };
    }) as unknown as LambdaClient["send"];
    return { fake, sent };
  }

  it("creates a mapping with the shared settings, its topic and its own group", async () => {
    const { fake, sent } = client([]);
    const mappings = lambdaKafkaMappings(fake, "parse-fn", "arn:cluster", () => ({
      BatchSize: 100,
      StartingPosition: "TRIM_HORIZON",
    }));
    expect(await mappings.create("events-1", "sparkless-p-parse-filter-events-1")).toBe("new-uuid");
    expect(sent).toEqual([
      {
        name: "CreateEventSourceMappingCommand",
        input: {
          BatchSize: 100,
          StartingPosition: "TRIM_HORIZON",
          FunctionName: "parse-fn",
          EventSourceArn: "arn:cluster",
          Topics: ["events-1"],
          AmazonManagedKafkaEventSourceConfig: {
            ConsumerGroupId: "sparkless-p-parse-filter-events-1",
          },
        },
      },
    ]);
  });

  it("lists the function's Kafka mappings across pages", async () => {
    const { fake } = client([
      {
        EventSourceMappings: [
          {
            UUID: "a",
            Topics: ["t1"],
            AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: "g1" },
          },
        ],
        NextMarker: "m",
      },
      { EventSourceMappings: [{ UUID: "b", Topics: ["t2"] }] },
    ]);
    const mappings = lambdaKafkaMappings(fake, "parse-fn", "arn:cluster", () => ({}));
    expect(await mappings.list()).toEqual([{ id: "a", topic: "t1", consumerGroupId: "g1" }]);
  });
});
