import { type EachMessagePayload, KafkaJSSASLAuthenticationError, logLevel } from "kafkajs";
import { describe, expect, it } from "vitest";
import { kafkaConnection, testKafka, uniqueName } from "./helpers.ts";

// The embedded broker speaks what MSK speaks: SASL/SCRAM-SHA-512 over TLS. These tests hold the
// project to it: the client verifies the broker's certificate against the generated CA, and
// authentication really happens.
describe("Kafka over SASL_SSL with SCRAM-SHA-512", () => {
  it("uses TLS verified against a CA and SCRAM-SHA-512 credentials", () => {
    // Prepare & Act
    const connection = kafkaConnection();

    // Assess: an embedded or external broker configured like MSK, never TLS without verification.
    expect(connection.sasl?.mechanism).toBe("scram-sha-512");
    expect(connection.tls?.caPem).toMatch(/BEGIN CERTIFICATE/);
  });

  it("produces and consumes a record, key, value and headers intact", async () => {
    // Prepare
    const kafka = testKafka();
    const topic = uniqueName("roundtrip");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true });
    const consumer = kafka.consumer({ groupId: uniqueName("group") });

    try {
      // Act
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key: "u1", value: '{"user":"u1","amount":12.5}', headers: { trace: "abc" } }],
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const received = await new Promise<EachMessagePayload>((resolve) => {
        void consumer.run({ eachMessage: async (payload) => resolve(payload) });
      });

      // Assess
      expect(received.topic).toBe(topic);
      expect(received.message.key?.toString()).toBe("u1");
      expect(received.message.value?.toString()).toBe('{"user":"u1","amount":12.5}');
      expect(received.message.headers?.trace?.toString()).toBe("abc");
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  });

  it("refuses a wrong SCRAM password with kafkajs's authentication error", async () => {
    // Prepare
    const { sasl } = kafkaConnection();
    if (!sasl) throw new Error("the test broker must require SASL");
    const kafka = testKafka({
      sasl: {
        mechanism: "scram-sha-512",
        username: sasl.username,
        password: `${sasl.password}-wrong`,
      },
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    });
    const producer = kafka.producer();

    // Act
    const connecting = producer.connect();

    // Assess
    await expect(connecting).rejects.toBeInstanceOf(KafkaJSSASLAuthenticationError);
    await expect(connecting).rejects.toThrow(/SCRAM SHA512 authentication failed/);
  });

  it("refuses an unknown SCRAM user", async () => {
    const kafka = testKafka({
      sasl: { mechanism: "scram-sha-512", username: "nobody", password: "whatever" },
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    });
    await expect(kafka.producer().connect()).rejects.toBeInstanceOf(KafkaJSSASLAuthenticationError);
  });

  it("fails the TLS handshake for a client that does not trust the generated CA", async () => {
    // Prepare: same credentials, but TLS verified against Node's public CAs only.
    const kafka = testKafka({ ssl: true, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = kafka.producer();

    // Act & Assess
    await expect(producer.connect()).rejects.toThrow(
      /self[- ]signed certificate|unable to verify/i,
    );
  });
});
