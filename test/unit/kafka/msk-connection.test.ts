import { randomUUID } from "node:crypto";
import { GetBootstrapBrokersCommand } from "@aws-sdk/client-kafka";
import { GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { KafkaConfigurationError } from "../../../shared/kafka/errors.ts";
import {
  type MskConnectionSources,
  resolveKafkaConnection,
} from "../../../shared/kafka/msk-connection.ts";

// Stand-ins for the two AWS clients: they answer the one command each is asked, and record it.
// Brokers are cached per container and cluster, so every test uses a cluster ARN of its own.
function sources(
  overrides: Partial<MskConnectionSources> & {
    secret?: string;
    scramBrokers?: string;
    iamBrokers?: string;
  } = {},
) {
  const asked: string[] = [];
  return {
    asked,
    sources: {
      env: {
        KAFKA_SECRET_ARN: "arn:secret:AmazonMSK_x",
        MSK_CLUSTER_ARN: `arn:cluster/${randomUUID()}`,
      },
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
          return {
            // What MSK answers for a cluster with every listener on: the SCRAM and IAM strings.
            BootstrapBrokerString: "b-1:9092,b-2:9092",
            BootstrapBrokerStringSaslScram: overrides.scramBrokers ?? "b-1:9096,b-2:9096",
            BootstrapBrokerStringSaslIam: overrides.iamBrokers ?? "b-1:9098,b-2:9098",
          };
        },
      },
      ...overrides,
    } as MskConnectionSources,
  };
}

describe("resolveKafkaConnection (how a function reaches MSK)", () => {
  it("logs in with the AmazonMSK_ secret, SCRAM-SHA-512 over TLS, to the SCRAM brokers MSK lists", async () => {
    // GIVEN a function with the stack's SCRAM environment, invoked with AWS's documented event,
    // whose bootstrapServers list the plaintext port
    const { sources: s, asked } = sources();
    const withEventBrokers = { ...s, bootstrapServers: "b-1:9092,b-2:9092" };

    // WHEN it resolves its connection
    const connection = await resolveKafkaConnection(withEventBrokers as MskConnectionSources);

    // THEN it uses port 9096 from GetBootstrapBrokers, not the plaintext string
    expect(connection).toEqual({
      brokers: ["b-1:9096", "b-2:9096"],
      tls: {},
      sasl: { mechanism: "scram-sha-512", username: "alice", password: "s3cret" },
    });
    expect(asked.sort()).toEqual(["GetBootstrapBrokers", "GetSecretValue"]);
  });

  it("asks MSK for the brokers once per container and cluster", async () => {
    const { sources: s, asked } = sources();
    await resolveKafkaConnection(s);
    await resolveKafkaConnection(s);
    expect(asked.filter((a) => a === "GetBootstrapBrokers")).toHaveLength(1);
  });

  it("asks again after a failed answer (a failure is not cached)", async () => {
    const { sources: s, asked } = sources();
    let calls = 0;
    const flaky = {
      ...s,
      msk: {
        send: async (command: unknown) => {
          calls += 1;
          if (calls === 1) throw new Error("throttled");
          return s.msk.send(command as GetBootstrapBrokersCommand);
        },
      },
    } as MskConnectionSources;
    await expect(resolveKafkaConnection(flaky)).rejects.toThrow("throttled");
    await expect(resolveKafkaConnection(flaky)).resolves.toMatchObject({
      brokers: ["b-1:9096", "b-2:9096"],
    });
    expect(asked.filter((a) => a === "GetBootstrapBrokers")).toHaveLength(1);
  });

  it("with MSK_AUTH=iam: the IAM brokers, OAUTHBEARER for the function's region, no secret", async () => {
    const { sources: s, asked } = sources();
    const iam = {
      ...s,
      env: { MSK_CLUSTER_ARN: s.env.MSK_CLUSTER_ARN, MSK_AUTH: "iam", AWS_REGION: "eu-west-1" },
    };
    await expect(resolveKafkaConnection(iam)).resolves.toEqual({
      brokers: ["b-1:9098", "b-2:9098"],
      tls: {},
      awsIam: { region: "eu-west-1" },
    });
    expect(asked).toEqual(["GetBootstrapBrokers"]);
  });

  it("prefers KAFKA_BROKERS from the environment (local runs)", async () => {
    const { sources: s, asked } = sources({ env: { KAFKA_BROKERS: "127.0.0.1:9096" } });
    expect((await resolveKafkaConnection(s)).brokers).toEqual(["127.0.0.1:9096"]);
    expect(asked).toEqual([]);
  });

  it.each([
    [{ env: {} }, "Neither KAFKA_BROKERS (local) nor MSK_CLUSTER_ARN"],
    [
      { env: { MSK_CLUSTER_ARN: "arn:c1" } },
      "KAFKA_SECRET_ARN (the AmazonMSK_ SCRAM secret) is required",
    ],
    [{ env: { MSK_CLUSTER_ARN: "arn:c2", MSK_AUTH: "tls" } }, "MSK_AUTH must be one of scram, iam"],
    [{ secret: "not json" }, "is not JSON"],
    [{ secret: '{"username":"alice"}' }, 'must hold string "username" and "password"'],
    [{ scramBrokers: "" }, "has no SASL/SCRAM brokers"],
  ])("fails with a clear message for %j", async (overrides, message) => {
    const { sources: s } = sources(overrides as Partial<MskConnectionSources>);
    await expect(resolveKafkaConnection(s)).rejects.toThrow(KafkaConfigurationError);
    await expect(resolveKafkaConnection(s)).rejects.toThrow(message);
  });

  it("fails for an IAM cluster without IAM brokers, and without a region", async () => {
    const { sources: s } = sources({ iamBrokers: "" });
    const iam = (env: NodeJS.ProcessEnv) => ({ ...s, env: { ...env, MSK_AUTH: "iam" } });
    await expect(
      resolveKafkaConnection(iam({ MSK_CLUSTER_ARN: "arn:c3", AWS_REGION: "eu-west-1" })),
    ).rejects.toThrow("has no IAM brokers");
    const { sources: t } = sources();
    await expect(
      resolveKafkaConnection({ ...t, env: { MSK_CLUSTER_ARN: "arn:c4", MSK_AUTH: "iam" } }),
    ).rejects.toThrow("region");
  });
});
