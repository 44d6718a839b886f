import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kafkaConnectionFromEnv, toKafkaJsConfig } from "../../../shared/kafka/connection.ts";
import { KafkaConfigurationError } from "../../../shared/kafka/errors.ts";

const caFile = join(mkdtempSync(join(tmpdir(), "sparkless-")), "ca.pem");
writeFileSync(caFile, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");

describe("kafkaConnectionFromEnv", () => {
  it("is undefined without KAFKA_BROKERS, so the embedded broker starts", () => {
    expect(kafkaConnectionFromEnv({})).toBeUndefined();
  });

  it("reads an MSK-style SASL/SCRAM over TLS connection", () => {
    const connection = kafkaConnectionFromEnv({
      KAFKA_BROKERS: "b-1.example:9096, b-2.example:9096",
      KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
      KAFKA_SASL_USERNAME: "alice",
      KAFKA_SASL_PASSWORD: "s3cret",
      KAFKA_SSL_CA: caFile,
    });
    expect(connection).toEqual({
      brokers: ["b-1.example:9096", "b-2.example:9096"],
      tls: { caPem: expect.stringContaining("BEGIN CERTIFICATE") },
      sasl: { mechanism: "scram-sha-512", username: "alice", password: "s3cret" },
    });
  });

  it("reads a plaintext SASL connection (Redpanda in docker-compose)", () => {
    const connection = kafkaConnectionFromEnv({
      KAFKA_BROKERS: "localhost:19092",
      KAFKA_SASL_MECHANISM: "scram-sha-256",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD: "p",
    });
    expect(connection?.tls).toBeUndefined();
    expect(connection?.sasl?.mechanism).toBe("scram-sha-256");
  });

  it.each([
    [{ KAFKA_BROKERS: "localhost" }, "'localhost' is not host:port"],
    [
      { KAFKA_BROKERS: "h:1", KAFKA_SASL_MECHANISM: "gssapi" },
      "KAFKA_SASL_MECHANISM must be one of",
    ],
    [
      { KAFKA_BROKERS: "h:1", KAFKA_SASL_MECHANISM: "plain" },
      "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
    ],
    [{ KAFKA_BROKERS: "h:1", KAFKA_SASL_USERNAME: "u" }, "KAFKA_SASL_MECHANISM must be one of"],
    [{ KAFKA_BROKERS: "h:1", KAFKA_SSL_CA: "/nonexistent/ca.pem" }, "cannot read the CA file"],
    [{ KAFKA_BROKERS: "h:1", KAFKA_SSL: "yes" }, "KAFKA_SSL must be 'true' or 'false'"],
    [{ KAFKA_BROKERS: "h:1", KAFKA_SSL: "false", KAFKA_SSL_CA: caFile }, "contradicts"],
  ])("rejects %j with a message that says what to fix", (env, message) => {
    expect(() => kafkaConnectionFromEnv(env)).toThrow(KafkaConfigurationError);
    expect(() => kafkaConnectionFromEnv(env)).toThrow(message);
  });
});

describe("toKafkaJsConfig", () => {
  it("pins the CA and never turns off certificate verification", () => {
    const config = toKafkaJsConfig(
      {
        brokers: ["h:9096"],
        tls: { caPem: "PEM" },
        sasl: { mechanism: "scram-sha-512", username: "u", password: "p" },
      },
      "client",
    );
    expect(config.ssl).toEqual({ ca: ["PEM"] });
    expect(JSON.stringify(config)).not.toContain("rejectUnauthorized");
    expect(config.sasl).toEqual({ mechanism: "scram-sha-512", username: "u", password: "p" });
  });

  it("uses Node's CAs when TLS is on without a pinned CA", () => {
    expect(toKafkaJsConfig({ brokers: ["h:9096"], tls: {} }, "client").ssl).toBe(true);
  });
});
