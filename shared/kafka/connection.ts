import { readFileSync } from "node:fs";
import { type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import { KafkaConfigurationError } from "./errors.ts";

/** SASL mechanisms kafkajs speaks that our brokers may ask for (MSK uses SCRAM-SHA-512). */
export const SASL_MECHANISMS = ["scram-sha-512", "scram-sha-256", "plain"] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

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
}

/**
 * Reads an external Kafka connection from the environment, or `undefined` when `KAFKA_BROKERS`
 * is not set (then the project starts its embedded broker).
 *
 * - `KAFKA_BROKERS`: comma-separated `host:port` list.
 * - `KAFKA_SASL_MECHANISM` (`scram-sha-512` | `scram-sha-256` | `plain`), `KAFKA_SASL_USERNAME`,
 *   `KAFKA_SASL_PASSWORD`: SASL authentication, all three or none.
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
  return { brokers, ...tlsFromEnv(env), ...saslFromEnv(env) };
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
      `KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(", ")}, got '${mechanism ?? ""}'`,
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

/** The kafkajs client configuration for a connection. TLS always verifies the broker. */
export function toKafkaJsConfig(
  connection: KafkaConnection,
  clientId: string,
  overrides: Partial<KafkaConfig> = {},
): KafkaConfig {
  const { tls, sasl } = connection;
  return {
    clientId,
    brokers: [...connection.brokers],
    logLevel: logLevel.WARN,
    ...(tls ? { ssl: tls.caPem ? { ca: [tls.caPem] } : true } : {}),
    // A copy: kafkajs writes its authentication provider into the object it is given.
    ...(sasl ? { sasl: { ...sasl } as SASLOptions } : {}),
    ...overrides,
  };
}
