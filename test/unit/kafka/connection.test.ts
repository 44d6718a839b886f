import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateAuthToken } from "aws-msk-iam-sasl-signer-js";
import type { OauthbearerProviderResponse } from "kafkajs";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  kafkaConnectionFromEnv,
  type MskTokenSigner,
  mskIamConnection,
  mskIamTokenProvider,
  toKafkaJsConfig,
} from "../../../shared/kafka/connection.ts";
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

// MSK IAM access control: non-Java clients authenticate with SASL/OAUTHBEARER over TLS, the token
// signed by AWS's signer library (aws-msk-iam-sasl-signer-js), on port 9098.
// https://docs.aws.amazon.com/msk/latest/developerguide/configure-clients-for-iam-access-control.html
// https://docs.aws.amazon.com/msk/latest/developerguide/port-info.html
// Nothing here reaches MSK: these tests check the wiring up to the bytes kafkajs sends.
describe("MSK IAM (KAFKA_SASL_MECHANISM=aws-msk-iam)", () => {
  const iamEnv = {
    KAFKA_BROKERS: "b-1.example:9098",
    KAFKA_SASL_MECHANISM: "aws-msk-iam",
    AWS_REGION: "eu-west-1",
  };
  // A stand-in signer that records its calls and hands out numbered tokens.
  function recordingSigner(lifetimeMs = 900_000, nowMs = () => 0) {
    const calls: Array<{ region: string }> = [];
    const sign: MskTokenSigner = async (options) => {
      calls.push(options);
      return { token: `token-${calls.length}`, expiryTime: nowMs() + lifetimeMs };
    };
    return { calls, sign };
  }

  it("reads the region and turns TLS on by itself", () => {
    expect(kafkaConnectionFromEnv(iamEnv)).toEqual({
      brokers: ["b-1.example:9098"],
      tls: {},
      awsIam: { region: "eu-west-1" },
    });
    expect(
      kafkaConnectionFromEnv({ ...iamEnv, AWS_REGION: "", AWS_DEFAULT_REGION: "us-east-2" })
        ?.awsIam,
    ).toEqual({ region: "us-east-2" });
    expect(kafkaConnectionFromEnv({ ...iamEnv, KAFKA_SSL_CA: caFile })?.tls?.caPem).toContain(
      "BEGIN CERTIFICATE",
    );
  });

  it.each([
    [{ KAFKA_SSL: "false" }, "requires TLS"],
    [{ AWS_REGION: "" }, "set AWS_REGION"],
    [{ KAFKA_SASL_USERNAME: "u", KAFKA_SASL_PASSWORD: "p" }, "unset KAFKA_SASL_USERNAME"],
  ])("refuses %j with a message that says what to fix", (extra, message) => {
    const env = { ...iamEnv, ...extra };
    expect(() => kafkaConnectionFromEnv(env)).toThrow(KafkaConfigurationError);
    expect(() => kafkaConnectionFromEnv(env)).toThrow(message);
  });

  it("configures kafkajs for OAUTHBEARER over TLS with a token provider for the region", async () => {
    // Prepare
    const { calls, sign } = recordingSigner();
    // Act
    const config = toKafkaJsConfig(mskIamConnection(["b-1:9098"], "eu-west-1"), "c", {}, sign);
    // Assess
    expect(config.ssl).toBe(true);
    expect(config.sasl).toEqual({
      mechanism: "oauthbearer",
      oauthBearerProvider: expect.any(Function),
    });
    expect(calls).toEqual([]); // nothing is signed before kafkajs connects
    const provider = (
      config.sasl as { oauthBearerProvider: () => Promise<OauthbearerProviderResponse> }
    ).oauthBearerProvider;
    await expect(provider()).resolves.toEqual({ value: "token-1" });
    expect(calls).toEqual([{ region: "eu-west-1" }]);
  });

  it("refuses an IAM connection without TLS, and IAM with a password", () => {
    expect(() =>
      toKafkaJsConfig({ brokers: ["b:9098"], awsIam: { region: "eu-west-1" } }, "c"),
    ).toThrow("requires TLS");
    expect(() =>
      toKafkaJsConfig(
        {
          brokers: ["b:9098"],
          tls: {},
          awsIam: { region: "eu-west-1" },
          sasl: { mechanism: "plain", username: "u", password: "p" },
        },
        "c",
      ),
    ).toThrow("not both");
    expect(() => mskIamConnection(["b:9098"], "")).toThrow("region");
  });

  it("reuses a token until a minute before it expires, then signs a new one", async () => {
    let now = 0;
    const { calls, sign } = recordingSigner(900_000, () => now);
    const provider = mskIamTokenProvider("eu-west-1", sign, () => now);
    expect(await provider()).toEqual({ value: "token-1" });
    now = 839_000;
    expect(await provider()).toEqual({ value: "token-1" });
    now = 840_000;
    expect(await provider()).toEqual({ value: "token-2" });
    expect(calls).toHaveLength(2);
  });

  it("says why when no token can be signed, and tries again on the next connection", async () => {
    let fail = true;
    const provider = mskIamTokenProvider("eu-west-1", async () => {
      if (fail) throw new Error("Could not load credentials from any providers");
      return { token: "t", expiryTime: Date.now() + 900_000 };
    });
    await expect(provider()).rejects.toThrow(
      "could not sign a token for eu-west-1 with the AWS default credentials: Could not load credentials",
    );
    fail = false;
    await expect(provider()).resolves.toEqual({ value: "t" });
  });

  describe("with the real signer and kafkajs 2.2.4's OAUTHBEARER authenticator", () => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it("sends a SigV4-presigned kafka-cluster:Connect URL for the region as the bearer token", async () => {
      // Prepare: static credentials in the environment (the default chain reads them; signing is offline).
      vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
      vi.stubEnv("AWS_SECRET_ACCESS_KEY", "example-secret");
      vi.stubEnv("AWS_SESSION_TOKEN", "");
      const config = toKafkaJsConfig(mskIamConnection(["b-1:9098"], "eu-west-1"), "c");
      // kafkajs's own authenticator for OAUTHBEARER (what its SASLAuthenticator runs for this mechanism).
      const require = createRequire(import.meta.url);
      const oauthBearer = require("kafkajs/src/broker/saslAuthenticator/oauthBearer.js");
      const sent: Buffer[] = [];
      const authenticator = oauthBearer(config.sasl)({
        host: "b-1",
        port: 9098,
        logger: { debug() {}, error() {} },
        saslAuthenticate: async ({ request }: { request: { encode(): Promise<Buffer> } }) => {
          sent.push(await request.encode());
        },
      });

      // Act
      await authenticator.authenticate();

      // Assess: RFC 7628's client response "n,,<SOH>auth=Bearer <token><SOH><SOH>".
      const message = (sent[0] as Buffer).subarray(4).toString(); // after the bytes' length prefix
      const SOH = String.fromCharCode(1);
      const [gs2Header, auth, ...rest] = message.split(SOH);
      expect([gs2Header, rest]).toEqual(["n,,", ["", ""]]);
      expect(auth).toMatch(/^auth=Bearer [A-Za-z0-9_-]+$/);
      const token = (auth ?? "").slice("auth=Bearer ".length);
      const url = new URL(Buffer.from(token, "base64url").toString());
      expect(url.host).toBe("kafka.eu-west-1.amazonaws.com");
      expect(url.searchParams.get("Action")).toBe("kafka-cluster:Connect");
      expect(url.searchParams.get("X-Amz-Credential")).toMatch(
        /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/,
      );
      expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
      // The library's own entry point agrees on the shape (same host and action).
      const direct = await generateAuthToken({ region: "eu-west-1" });
      expect(Buffer.from(direct.token, "base64url").toString()).toContain(
        "https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect",
      );
    });
  });
});
