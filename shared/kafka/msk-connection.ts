import { GetBootstrapBrokersCommand, type KafkaClient } from "@aws-sdk/client-kafka";
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type KafkaConnection, kafkaConnectionFromEnv, mskIamConnection } from "./connection.ts";
import { KafkaConfigurationError } from "./errors.ts";

/** Where a function finds its Kafka: the environment locally, MSK and Secrets Manager in AWS. */
export interface MskConnectionSources {
  readonly env: NodeJS.ProcessEnv;
  readonly secrets: Pick<SecretsManagerClient, "send">;
  readonly msk: Pick<KafkaClient, "send">;
}

/** `MSK_AUTH` values: how the stack told a function to log in to its cluster. */
export const MSK_AUTH = ["scram", "iam"] as const;
export type MskAuth = (typeof MSK_AUTH)[number];

// Broker strings per cluster and login, asked once per Lambda container (a failed answer is not
// kept). They change only when brokers are added or replaced.
const brokersByCluster = new Map<string, Promise<string[]>>();

/**
 * Resolves how a Lambda function reaches Kafka.
 *
 * - `KAFKA_BROKERS` set (local runs, tests): the environment says everything.
 * - Otherwise the MSK cluster `MSK_CLUSTER_ARN`, over TLS, with the login `MSK_AUTH` names:
 *   - `scram` (the default): SASL/SCRAM-SHA-512 with the `AmazonMSK_` secret `KAFKA_SECRET_ARN`
 *     (JSON `{ username, password }`), brokers from `BootstrapBrokerStringSaslScram` (port 9096);
 *   - `iam`: MSK IAM access control (SASL/OAUTHBEARER signed with the function's role, region
 *     `AWS_REGION`), brokers from `BootstrapBrokerStringSaslIam` (port 9098).
 *
 * The brokers always come from `GetBootstrapBrokers`, never from the event's `bootstrapServers`:
 * AWS's documented event lists port 9092 (plaintext), which a cluster without plaintext
 * listeners does not serve. https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 * https://docs.aws.amazon.com/msk/latest/developerguide/msk-password.html
 */
export async function resolveKafkaConnection(
  sources: MskConnectionSources,
): Promise<KafkaConnection> {
  const local = kafkaConnectionFromEnv(sources.env);
  if (local) return local;
  const clusterArn = sources.env.MSK_CLUSTER_ARN;
  if (!clusterArn) {
    throw new KafkaConfigurationError(
      "Neither KAFKA_BROKERS (local) nor MSK_CLUSTER_ARN (the MSK cluster) is set",
    );
  }
  const auth = sources.env.MSK_AUTH ?? "scram";
  if (auth === "iam") {
    const region = sources.env.AWS_REGION ?? sources.env.AWS_DEFAULT_REGION ?? "";
    return mskIamConnection(await bootstrapBrokers(sources.msk, clusterArn, "iam"), region);
  }
  if (auth !== "scram") {
    throw new KafkaConfigurationError(
      `MSK_AUTH must be one of ${MSK_AUTH.join(", ")}, got '${auth}'`,
    );
  }
  const secretArn = sources.env.KAFKA_SECRET_ARN;
  if (!secretArn) {
    throw new KafkaConfigurationError(
      "KAFKA_SECRET_ARN (the AmazonMSK_ SCRAM secret) is required with MSK_AUTH=scram",
    );
  }
  const [brokers, credentials] = await Promise.all([
    bootstrapBrokers(sources.msk, clusterArn, "scram"),
    scramCredentials(sources.secrets, secretArn),
  ]);
  return { brokers, tls: {}, sasl: { mechanism: "scram-sha-512", ...credentials } };
}

function bootstrapBrokers(
  msk: MskConnectionSources["msk"],
  clusterArn: string,
  auth: MskAuth,
): Promise<string[]> {
  const key = `${auth} ${clusterArn}`;
  let brokers = brokersByCluster.get(key);
  if (!brokers) {
    brokers = askBrokers(msk, clusterArn, auth);
    brokersByCluster.set(key, brokers);
    brokers.catch(() => brokersByCluster.delete(key));
  }
  return brokers;
}

async function askBrokers(
  msk: MskConnectionSources["msk"],
  clusterArn: string,
  auth: MskAuth,
): Promise<string[]> {
  const answer = await msk.send(new GetBootstrapBrokersCommand({ ClusterArn: clusterArn }));
  const list =
    auth === "iam" ? answer.BootstrapBrokerStringSaslIam : answer.BootstrapBrokerStringSaslScram;
  if (!list) {
    throw new KafkaConfigurationError(
      auth === "iam"
        ? `MSK cluster ${clusterArn} has no IAM brokers: enable IAM client authentication`
        : `MSK cluster ${clusterArn} has no SASL/SCRAM brokers: enable SASL/SCRAM client authentication`,
    );
  }
  return list.split(",");
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
