import { ConfigResourceTypes } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcileTopics, TopicChangeRefused } from "../../../shared/kafka/topic-changes.ts";
import { OUTPUT_TOPIC_CONFIG } from "../../../shared/kafka/topics.ts";
import { testKafka, uniqueName } from "../helpers.ts";

// What the topics custom resource does on a deploy, against the real broker (one broker here, so
// one replica).
const admin = testKafka().admin();
beforeAll(() => admin.connect());
afterAll(() => admin.disconnect());

const partitionsOf = async (topic: string) =>
  (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.length;
const configsOf = async (topic: string) => {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
  });
  return Object.fromEntries(
    (resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]),
  );
};

describe("reconcileTopics", () => {
  it("creates missing topics with their configs, and does nothing on a second run", async () => {
    const topic = uniqueName("rt-create");
    const spec = { topic, numPartitions: 3, replicationFactor: 1, configs: OUTPUT_TOPIC_CONFIG };

    const first = await reconcileTopics(admin, [spec]);
    const second = await reconcileTopics(admin, [spec]);

    expect(first).toEqual({ created: [topic], partitionsAdded: [], configsChanged: [] });
    expect(second).toEqual({ created: [], partitionsAdded: [], configsChanged: [] });
    expect(await partitionsOf(topic)).toBe(3);
    expect((await configsOf(topic))["cleanup.policy"]).toBe("delete");
  });

  it("adds partitions and applies a changed config, keeping configs set by hand", async () => {
    // GIVEN a compacted output topic created by an earlier deploy, and a config an operator set
    const topic = uniqueName("rt-update");
    await reconcileTopics(admin, [
      {
        topic,
        numPartitions: 2,
        replicationFactor: 1,
        configs: { "cleanup.policy": "compact,delete" },
      },
    ]);
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: [
            { name: "cleanup.policy", value: "compact,delete" },
            { name: "max.message.bytes", value: "2000000" },
          ],
        },
      ],
    });

    // WHEN the deployment asks for more partitions and no compaction
    const changes = await reconcileTopics(admin, [
      { topic, numPartitions: 4, replicationFactor: 1, configs: OUTPUT_TOPIC_CONFIG },
    ]);

    // THEN both are applied, and the operator's setting survives
    expect(changes).toEqual({ created: [], partitionsAdded: [topic], configsChanged: [topic] });
    expect(await partitionsOf(topic)).toBe(4);
    const configs = await configsOf(topic);
    expect(configs["cleanup.policy"]).toBe("delete");
    expect(configs["max.message.bytes"]).toBe("2000000");
  });

  it("refuses fewer partitions or more replicas than brokers, and then changes nothing", async () => {
    const topic = uniqueName("rt-refuse");
    const other = uniqueName("rt-untouched");
    await reconcileTopics(admin, [{ topic, numPartitions: 4, replicationFactor: 1 }]);

    const fewer = reconcileTopics(admin, [
      { topic, numPartitions: 2, replicationFactor: 1, configs: OUTPUT_TOPIC_CONFIG },
      { topic: other, numPartitions: 1, replicationFactor: 1 },
    ]);
    await expect(fewer).rejects.toThrow(TopicChangeRefused);
    await expect(fewer).rejects.toThrow(
      `topic ${topic} has 4 partitions and Kafka cannot remove partitions`,
    );
    await expect(
      reconcileTopics(admin, [{ topic: other, numPartitions: 1, replicationFactor: 3 }]),
    ).rejects.toThrow(
      `topic ${other} asks for 3 replicas but the cluster has 1 brokers: set sparkless:replicationFactor to at most 1`,
    );

    expect(await admin.listTopics()).not.toContain(other);
    expect(await partitionsOf(topic)).toBe(4);
    expect((await configsOf(topic))["cleanup.policy"]).toBe("delete"); // the broker default
  });
});
