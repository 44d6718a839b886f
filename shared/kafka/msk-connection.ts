import { GetBootstrapBrokersCommand, type KafkaClient } from "@aws-sdk/client-kafka";
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type KafkaConnection, kafkaConnectionFromEnv } from "./connection.ts";
import { KafkaConfigurationError } from "./errors.ts";

/** Where a function finds its Kafka: the environment locally, MSK and Secrets Manager in AWS. */
export interface MskConnectionSources {
  readonly env: NodeJS.ProcessEnv;
  /** The event's `bootstrapServers`; functions without an event (flush) ask MSK instead. */
  readonly bootstrapServers?: string;
  readonly secrets: Pick<SecretsManagerClient, "send">;
  readonly msk: Pick<KafkaClient, "send">;
}

/**
 * Resolves how a Lambda function reaches Kafka.
 *
 * - `KAFKA_BROKERS` set (local runs, tests): the environment says everything.
 * - Otherwise MSK with SASL/SCRAM over TLS: the brokers come from the event or
 *   `GetBootstrapBrokers(MSK_CLUSTER_ARN)` (the SCRAM broker string, port 9096), the credentials
 *   from the `AmazonMSK_` secret named by `KAFKA_SECRET_ARN` (JSON `{ username, password }`), and
 *   TLS verifies the brokers against the public CAs MSK's certificates chain to.
 *   https://docs.aws.amazon.com/msk/latest/developerguide/msk-password.html
 */
export async function resolveKafkaConnection(
  sources: MskConnectionSources,
): Promise<KafkaConnection> {
  const local = kafkaConnectionFromEnv(sources.env);
  if (local) return local;
  const secretArn = sources.env.KAFKA_SECRET_ARN;
  if (!secretArn) {
    throw new KafkaConfigurationError(
      "Neither KAFKA_BROKERS (local) nor KAFKA_SECRET_ARN (the AmazonMSK_ SCRAM secret) is set",
    );
  }
  const [brokers, credentials] = await Promise.all([
    bootstrapBrokers(sources),
    scramCredentials(sources.secrets, secretArn),
  ]);
  return { brokers, tls: {}, sasl: { mechanism: "scram-sha-512", ...credentials } };
}

async function bootstrapBrokers(sources: MskConnectionSources): Promise<string[]> {
  const fromEvent = sources.bootstrapServers?.split(",").filter((b) => b.length > 0);
  if (fromEvent && fromEvent.length > 0) return fromEvent;
  const clusterArn = sources.env.MSK_CLUSTER_ARN;
  if (!clusterArn) {
    throw new KafkaConfigurationError(
      "MSK_CLUSTER_ARN is required to find the brokers without an event",
    );
  }
  const answer = await sources.msk.send(new GetBootstrapBrokersCommand({ ClusterArn: clusterArn }));
  const scram = answer.BootstrapBrokerStringSaslScram;
  if (!scram) {
    throw new KafkaConfigurationError(
      `MSK cluster ${clusterArn} has no SASL/SCRAM brokers: enable SASL/SCRAM client authentication`,
    );
  }
  return scram.split(",");
}

async function scramCredentials(
  secrets: MskConnectionSources["secrets"],
  secretArn: string,
): Promise<{ username: string; password: string }> {
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
  let parsed: unknown;
  try {
    parsed = JSON.parse(SecretString ?? "");
  } catch (error) {
    throw new KafkaConfigurationError(
      `Secret ${secretArn} is not JSON { "username", "password" }`,
      {
        cause: error,
      },
    );
  }
  const { username, password } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof username !== "string" || typeof password !== "string") {
    throw new KafkaConfigurationError(
      `Secret ${secretArn} must hold string "username" and "password"`,
    );
  }
  return { username, password };
}
