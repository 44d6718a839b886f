import {
  CreateEventSourceMappingCommand,
  type CreateEventSourceMappingCommandInput,
  DeleteEventSourceMappingCommand,
  type LambdaClient,
  paginateListEventSourceMappings,
} from "@aws-sdk/client-lambda";
import type { PatternMapping, PatternMappings } from "../usecases/pattern-subscriptions.ts";

/**
 * The settings every mapping of a pattern source shares, as CreateEventSourceMapping takes them
 * (what the stack gives its own mappings: batch size and window, authentication, filter, pollers;
 * never a destination or a retry cap). The stack writes them; the subscriber adds topic and group.
 * https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
 */
export type SharedMappingSettings = Omit<
  CreateEventSourceMappingCommandInput,
  "Topics" | "AmazonManagedKafkaEventSourceConfig" | "FunctionName" | "EventSourceArn"
>;

/** A function's Kafka mappings through Lambda's API. */
export function lambdaKafkaMappings(
  lambda: LambdaClient,
  functionName: string,
  eventSourceArn: string,
  settings: (topic: string) => SharedMappingSettings,
): PatternMappings {
  return {
    async list() {
      const found: PatternMapping[] = [];
      const pages = paginateListEventSourceMappings(
        { client: lambda },
        { FunctionName: functionName, EventSourceArn: eventSourceArn },
      );
      for await (const page of pages) {
        for (const m of page.EventSourceMappings ?? []) {
          const topic = m.Topics?.[0];
          const group = m.AmazonManagedKafkaEventSourceConfig?.ConsumerGroupId;
          if (m.UUID && topic && group) found.push({ id: m.UUID, topic, consumerGroupId: group });
        }
      }
      return found;
    },
    async create(topic, consumerGroupId) {
      const created = await lambda.send(
        new CreateEventSourceMappingCommand({
          ...settings(topic),
          FunctionName: functionName,
          EventSourceArn: eventSourceArn,
          Topics: [topic],
          AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: consumerGroupId },
        }),
      );
      return created.UUID ?? "";
    },
    async remove(mapping) {
      await lambda.send(new DeleteEventSourceMappingCommand({ UUID: mapping.id }));
    },
  };
}

/**
 * The settings as the stack wrote them (JSON, a timestamp start in epoch seconds) made ready for
 * the SDK: the start is the pipeline's for topics found at deploy; a topic found later starts at
 * its earliest offset (TRIM_HORIZON), as Spark reads a topic discovered after the query started.
 */
export function mappingSettingsFor(json: string, foundLater: boolean): SharedMappingSettings {
  const settings = JSON.parse(json) as SharedMappingSettings;
  const seconds = settings.StartingPositionTimestamp as unknown as number | undefined;
  if (foundLater) {
    const { StartingPositionTimestamp: _, ...rest } = settings;
    return { ...rest, StartingPosition: "TRIM_HORIZON" };
  }
  return seconds === undefined
    ? settings
    : { ...settings, StartingPositionTimestamp: new Date(seconds * 1000) };
}
