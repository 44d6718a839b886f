import { readFileSync } from "node:fs";
import { type GenerateAuthTokenResponse, generateAuthToken } from "aws-msk-iam-sasl-signer-js";
import {
  type KafkaConfig,
  logLevel,
  type OauthbearerProviderResponse,
  type SASLOptions,
} from "kafkajs";
import { KafkaConfigurationError } from "./errors.ts";

/** Username/password SASL mechanisms kafkajs speaks (MSK's SCRAM uses SCRAM-SHA-512). */
export const SASL_MECHANISMS = ["scram-sha-512", "scram-sha-256", "plain"] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
/** `KAFKA_SASL_MECHANISM` value for MSK's IAM access control (SASL/OAUTHBEARER, AWS-signed). */
export const MSK_IAM_MECHANISM = "aws-msk-iam";

/** How to reach a Kafka cluster: the embedded broker, Redpanda, or MSK through a tunnel. */
export interface KafkaConnection {
  readonly brokers: readonly string[];
  /** TLS to the brokers; `caPem` pins the CA that signed their certificates (else Node's CAs). */
  readonly tls?: { readonly caPem?: string };
  readonly sasl?: {
    readonly mechanism: SaslMechanism;
    readonly username: string;
    readonly password: string;
  };
  /**
   * MSK IAM access control instead of `sasl`: SASL/OAUTHBEARER with a token signed by AWS's
   * signer library from the default credential chain, for `region`. Requires `tls`.
   * https://docs.aws.amazon.com/msk/latest/developerguide/configure-clients-for-iam-access-control.html
   */
  readonly awsIam?: { readonly region: string };
}

/**
 * The connection to an MSK cluster with IAM access control (its `BootstrapBrokerStringSaslIam`,
 * port 9098, or MSK Serverless): TLS with Node's CAs, tokens signed for `region`.
 */
export function mskIamConnection(brokers: readonly string[], region: string): KafkaConnection {
  if (!region) throw new KafkaConfigurationError("MSK IAM needs the cluster's AWS region");
  return { brokers: [...brokers], tls: {}, awsIam: { region } };
}

/**
 * Reads an external Kafka connection from the environment, or `undefined` when `KAFKA_BROKERS`
 * is not set (then the project starts its embedded broker).
 *
 * - `KAFKA_BROKERS`: comma-separated `host:port` list.
 * - `KAFKA_SASL_MECHANISM` (`scram-sha-512` | `scram-sha-256` | `plain`), `KAFKA_SASL_USERNAME`,
 *   `KAFKA_SASL_PASSWORD`: SASL authentication, all three or none.
 * - `KAFKA_SASL_MECHANISM=aws-msk-iam`: MSK IAM access control, region from `AWS_REGION` (or
 *   `AWS_DEFAULT_REGION`), credentials from the AWS SDK's default chain; TLS is on by default and
 *   `KAFKA_SSL=false` is refused (MSK's IAM listener, port 9098, is TLS only).
 * - `KAFKA_SSL_CA`: path to a PEM file with the CA of the brokers' certificates; implies TLS.
 * - `KAFKA_SSL`: `true` / `false`, TLS with Node's default CAs (default: true iff `KAFKA_SSL_CA`).
 */
export function kafkaConnectionFromEnv(env: NodeJS.ProcessEnv): KafkaConnection | undefined {
  const brokersVar = env.KAFKA_BROKERS?.trim();
  if (!brokersVar) return undefined;
  const brokers = brokersVar
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  for (const broker of brokers) {
    if (!/^[^\s:]+:\d+$/.test(broker)) {
      throw new KafkaConfigurationError(
        `KAFKA_BROKERS: '${broker}' is not host:port (expected e.g. 'b-1.example:9096,b-2.example:9096')`,
      );
    }
  }
  if (env.KAFKA_SASL_MECHANISM?.trim().toLowerCase() === MSK_IAM_MECHANISM) {
    return { brokers, ...mskIamFromEnv(env) };
  }
  return { brokers, ...tlsFromEnv(env), ...saslFromEnv(env) };
}

function mskIamFromEnv(env: NodeJS.ProcessEnv): Pick<KafkaConnection, "tls" | "awsIam"> {
  if (env.KAFKA_SASL_USERNAME || env.KAFKA_SASL_PASSWORD) {
    throw new KafkaConfigurationError(
      "KAFKA_SASL_MECHANISM=aws-msk-iam signs with AWS credentials: unset KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
    );
  }
  if (env.KAFKA_SSL?.trim().toLowerCase() === "false") {
    throw new KafkaConfigurationError(
      "KAFKA_SASL_MECHANISM=aws-msk-iam requires TLS (MSK's IAM listener, port 9098, is TLS only): remove KAFKA_SSL=false",
    );
  }
  const region = (env.AWS_REGION || env.AWS_DEFAULT_REGION)?.trim();
  if (!region) {
    throw new KafkaConfigurationError(
      "KAFKA_SASL_MECHANISM=aws-msk-iam: set AWS_REGION to the cluster's region (tokens are signed for it)",
    );
  }
  const { tls } = tlsFromEnv(env);
  return { tls: tls ?? {}, awsIam: { region } };
}

function tlsFromEnv(env: NodeJS.ProcessEnv): Pick<KafkaConnection, "tls"> {
  const caPath = env.KAFKA_SSL_CA?.trim();
  const sslVar = env.KAFKA_SSL?.trim().toLowerCase();
  if (sslVar !== undefined && sslVar !== "" && sslVar !== "true" && sslVar !== "false") {
    throw new KafkaConfigurationError(
      `KAFKA_SSL must be 'true' or 'false', got '${env.KAFKA_SSL}'`,
    );
  }
  if (sslVar === "false") {
    if (caPath) throw new KafkaConfigurationError("KAFKA_SSL=false contradicts KAFKA_SSL_CA");
    return {};
  }
  if (caPath) {
    try {
      return { tls: { caPem: readFileSync(caPath, "utf8") } };
    } catch (error) {
      throw new KafkaConfigurationError(`KAFKA_SSL_CA: cannot read the CA file '${caPath}'`, {
        cause: error,
      });
    }
  }
  return sslVar === "true" ? { tls: {} } : {};
}

function saslFromEnv(env: NodeJS.ProcessEnv): Pick<KafkaConnection, "sasl"> {
  const mechanism = env.KAFKA_SASL_MECHANISM?.trim().toLowerCase();
  const username = env.KAFKA_SASL_USERNAME;
  const password = env.KAFKA_SASL_PASSWORD;
  if (!mechanism && !username && !password) return {};
  if (!mechanism || !isSaslMechanism(mechanism)) {
    throw new KafkaConfigurationError(
      `KAFKA_SASL_MECHANISM must be one of ${[...SASL_MECHANISMS, MSK_IAM_MECHANISM].join(", ")}, got '${mechanism ?? ""}'`,
    );
  }
  if (!username || !password) {
    throw new KafkaConfigurationError(
      "KAFKA_SASL_MECHANISM is set: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required too",
    );
  }
  return { sasl: { mechanism, username, password } };
}

function isSaslMechanism(value: string): value is SaslMechanism {
  return (SASL_MECHANISMS as readonly string[]).includes(value);
}

/**
 * The kafkajs client configuration for a connection. TLS always verifies the broker. An IAM
 * connection gets an OAUTHBEARER token provider (see {@link mskIamTokenProvider}); one without
 * TLS, or with both IAM and a password, is refused.
 */
export function toKafkaJsConfig(
  connection: KafkaConnection,
  clientId: string,
  overrides: Partial<KafkaConfig> = {},
  signToken: MskTokenSigner = generateAuthToken,
): KafkaConfig {
  const { tls, sasl, awsIam } = connection;
  if (awsIam && !tls) {
    throw new KafkaConfigurationError(
      "MSK IAM authentication requires TLS (MSK's IAM listener, port 9098, is TLS only): the connection has no tls",
    );
  }
  if (awsIam && sasl) {
    throw new KafkaConfigurationError(
      `a Kafka connection uses MSK IAM or ${sasl.mechanism}, not both`,
    );
  }
  return {
    clientId,
    brokers: [...connection.brokers],
    logLevel: logLevel.WARN,
    ...(tls ? { ssl: tls.caPem ? { ca: [tls.caPem] } : true } : {}),
    // A copy: kafkajs writes its authentication provider into the object it is given.
    ...(sasl ? { sasl: { ...sasl } as SASLOptions } : {}),
    ...(awsIam
      ? {
          sasl: {
            mechanism: "oauthbearer",
            oauthBearerProvider: mskIamTokenProvider(awsIam.region, signToken),
          },
        }
      : {}),
    ...overrides,
  };
}

/** Signs an MSK IAM token: `generateAuthToken` of `aws-msk-iam-sasl-signer-js` (replaceable in tests). */
export type MskTokenSigner = (options: { region: string }) => Promise<GenerateAuthTokenResponse>;

// Sign a new token this long before the current one expires (a connection authenticating near
// the end of a token's life would otherwise be refused).
const TOKEN_REFRESH_MARGIN_MS = 60_000;

/**
 * kafkajs's `oauthBearerProvider` for MSK IAM. kafkajs calls it at every connection and
 * re-authentication (it re-authenticates before the session lifetime the broker returns ends)
 * and leaves caching to the provider, so a token is reused until a minute before it expires.
 */
export function mskIamTokenProvider(
  region: string,
  signToken: MskTokenSigner = generateAuthToken,
  nowMs: () => number = Date.now,
): () => Promise<OauthbearerProviderResponse> {
  let current: GenerateAuthTokenResponse | undefined;
  return async () => {
    if (!current || current.expiryTime - TOKEN_REFRESH_MARGIN_MS <= nowMs()) {
      try {
        current = await signToken({ region });
      } catch (error) {
        throw new KafkaConfigurationError(
          `MSK IAM: could not sign a token for ${region} with the AWS default credentials: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    return { value: current.token };
  };
}
