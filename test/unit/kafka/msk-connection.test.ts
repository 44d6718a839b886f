import { GetBootstrapBrokersCommand } from "@aws-sdk/client-kafka";
import { GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { KafkaConfigurationError } from "../../../shared/kafka/errors.ts";
import {
  type MskConnectionSources,
  resolveKafkaConnection,
} from "../../../shared/kafka/msk-connection.ts";

// Stand-ins for the two AWS clients: they answer the one command each is asked, and record it.
function sources(
  overrides: Partial<MskConnectionSources> & { secret?: string; scramBrokers?: string } = {},
) {
  const asked: string[] = [];
  return {
    asked,
    sources: {
      env: { KAFKA_SECRET_ARN: "arn:secret:AmazonMSK_x", MSK_CLUSTER_ARN: "arn:cluster" },
      secrets: {
        send: async (command: unknown) => {
          expect(command).toBeInstanceOf(GetSecretValueCommand);
          asked.push("GetSecretValue");
          return { SecretString: overrides.secret ?? '{"username":"alice","password":"s3cret"}' };
        },
      },
      msk: {
        send: async (command: unknown) => {
          expect(command).toBeInstanceOf(GetBootstrapBrokersCommand);
          asked.push("GetBootstrapBrokers");
          return { BootstrapBrokerStringSaslScram: overrides.scramBrokers ?? "b-1:9096,b-2:9096" };
        },
      },
      ...overrides,
    } as MskConnectionSources,
  };
}

describe("resolveKafkaConnection (how a function reaches MSK)", () => {
  it("uses the event's brokers and the AmazonMSK_ secret, SCRAM-SHA-512 over TLS", async () => {
    const { sources: s, asked } = sources({ bootstrapServers: "b-9:9096" });
    await expect(resolveKafkaConnection(s)).resolves.toEqual({
      brokers: ["b-9:9096"],
      tls: {},
      sasl: { mechanism: "scram-sha-512", username: "alice", password: "s3cret" },
    });
    expect(asked).toEqual(["GetSecretValue"]);
  });

  it("asks MSK for the SCRAM brokers when there is no event (the flush function)", async () => {
    const { sources: s, asked } = sources();
    const connection = await resolveKafkaConnection(s);
    expect(connection.brokers).toEqual(["b-1:9096", "b-2:9096"]);
    expect(asked.sort()).toEqual(["GetBootstrapBrokers", "GetSecretValue"]);
  });

  it("prefers KAFKA_BROKERS from the environment (local runs)", async () => {
    const { sources: s, asked } = sources({ env: { KAFKA_BROKERS: "127.0.0.1:9096" } });
    expect((await resolveKafkaConnection(s)).brokers).toEqual(["127.0.0.1:9096"]);
    expect(asked).toEqual([]);
  });

  it.each([
    [{ env: {} }, "Neither KAFKA_BROKERS (local) nor KAFKA_SECRET_ARN"],
    [{ secret: "not json" }, "is not JSON"],
    [{ secret: '{"username":"alice"}' }, 'must hold string "username" and "password"'],
    [{ scramBrokers: "" }, "has no SASL/SCRAM brokers"],
  ])("fails with a clear message for %j", async (overrides, message) => {
    const { sources: s } = sources(overrides as Partial<MskConnectionSources>);
    await expect(resolveKafkaConnection(s)).rejects.toThrow(KafkaConfigurationError);
    await expect(resolveKafkaConnection(s)).rejects.toThrow(message);
  });
});
