import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { type KafkaConnection, toKafkaJsConfig } from "../shared/kafka/connection.ts";
import { ensureBrokerCertificates } from "./certs.ts";
import { requireJava17, run, spawnJava } from "./java.ts";
import { ensureJars } from "./maven.ts";
import { jarsDir } from "./paths.ts";
import { waitUntilReady } from "./process.ts";

/** The SCRAM user created when the embedded broker's storage is formatted. */
export const LOCAL_SCRAM_USER = {
  username: "sparkless",
  password: "sparkless-local-secret",
} as const;

export interface KafkaPorts {
  /** PLAINTEXT listener: inter-broker traffic and quick local tools. */
  readonly plaintext: number;
  /** SASL_SSL listener with SCRAM-SHA-512: the protocol MSK clients use (MSK's port is 9096). */
  readonly saslSsl: number;
  /** KRaft controller listener (the broker is its own single-node quorum). */
  readonly controller: number;
}

export interface EmbeddedKafka {
  readonly pid: number;
  readonly ports: KafkaPorts;
  /** SASL_SSL + SCRAM-SHA-512, verified against the generated CA: what the pipeline uses. */
  readonly connection: KafkaConnection;
  readonly logFile: string;
  /** The generated CA certificate, for clients outside this process (`KAFKA_SSL_CA`). */
  readonly caPemPath: string;
}

const START_TIMEOUT_MS = 90_000;

/**
 * Starts Apache Kafka 3.9 in KRaft mode (one combined broker + controller) from the cached Maven
 * Central jars, with fresh storage formatted with the SCRAM user, and returns once a SASL_SSL
 * client really talks to it.
 */
export async function startKafka(
  stateDir: string,
  ports: KafkaPorts,
  log: (line: string) => void,
): Promise<EmbeddedKafka> {
  await requireJava17();
  const [jars, certs] = [await ensureJars("kafka", log), await ensureBrokerCertificates(log)];
  const classpath = `${jars}/*`;
  const { dataDir, propsFile, log4jFile, logFile } = kafkaFiles(stateDir);

  // Storage is ephemeral, like DynamoDB Local in memory: every start is a clean cluster.
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(logFile, "");
  writeFileSync(
    propsFile,
    serverProperties(ports, dataDir, certs.keystorePath, certs.keystorePassword),
  );
  writeFileSync(log4jFile, LOG4J_PROPERTIES);

  const { username, password } = LOCAL_SCRAM_USER;
  await run(
    "java",
    [
      "-cp",
      classpath,
      `-Dlog4j.configuration=file:${log4jFile}`,
      "kafka.tools.StorageTool",
      "format",
      "--cluster-id",
      clusterId(),
      "--config",
      propsFile,
      "--add-scram",
      `SCRAM-SHA-512=[name=${username},password=${password}]`,
    ],
    "Formatting Kafka storage",
  );

  const connection: KafkaConnection = {
    brokers: [`127.0.0.1:${ports.saslSsl}`],
    tls: { caPem: certs.caPem },
    sasl: { mechanism: "scram-sha-512", username, password },
  };
  const pid = await launch(stateDir, classpath, connection);
  return { pid, ports, connection, logFile, caPemPath: certs.caPemPath };
}

/**
 * Starts the broker again on its existing storage (same ports, topics, offsets and SCRAM user):
 * a broker that went down and comes back, for outage tests.
 */
export async function restartKafka(stateDir: string, kafka: EmbeddedKafka): Promise<EmbeddedKafka> {
  const pid = await launch(stateDir, `${jarsDir("kafka")}/*`, kafka.connection);
  return { ...kafka, pid };
}

/** Where a broker keeps its storage, configuration and log inside its state folder. */
function kafkaFiles(stateDir: string) {
  return {
    dataDir: join(stateDir, "kafka-data"),
    propsFile: join(stateDir, "server.properties"),
    log4jFile: join(stateDir, "kafka-log4j.properties"),
    logFile: join(stateDir, "kafka.log"),
  };
}

async function launch(
  stateDir: string,
  classpath: string,
  connection: KafkaConnection,
): Promise<number> {
  const { propsFile, log4jFile, logFile } = kafkaFiles(stateDir);
  const pid = spawnJava(
    [
      "-Xms256m",
      "-Xmx768m",
      "-XX:+UseG1GC",
      "-Djava.awt.headless=true",
      `-Dsparkless.state=${stateDir}`,
      `-Dlog4j.configuration=file:${log4jFile}`,
      "-cp",
      classpath,
      "kafka.Kafka",
      propsFile,
    ],
    logFile,
    stateDir,
  );
  await waitUntilReady({
    what: "Kafka",
    pid,
    marker: stateDir,
    logFile,
    timeoutMs: START_TIMEOUT_MS,
    probe: () => probeKafka(connection),
  });
  return pid;
}

/** Connects over SASL_SSL, authenticates and reads the cluster metadata; throws if any step fails. */
export async function probeKafka(connection: KafkaConnection): Promise<void> {
  const admin = new Kafka(
    toKafkaJsConfig(connection, "sparkless-probe", {
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2_000,
      retry: { retries: 0 },
    }),
  ).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) throw new Error("no broker registered yet");
  } finally {
    await admin.disconnect();
  }
}

// Mirrors MSK's defaults where they matter to us: topics are created on purpose (no auto-create),
// and the SASL_SSL listener only accepts SCRAM-SHA-512 over TLS.
// https://docs.aws.amazon.com/msk/latest/developerguide/msk-password.html
function serverProperties(
  ports: KafkaPorts,
  dataDir: string,
  keystore: string,
  storePassword: string,
): string {
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${ports.controller}
listeners=PLAINTEXT://127.0.0.1:${ports.plaintext},SASL_SSL://127.0.0.1:${ports.saslSsl},CONTROLLER://127.0.0.1:${ports.controller}
advertised.listeners=PLAINTEXT://127.0.0.1:${ports.plaintext},SASL_SSL://127.0.0.1:${ports.saslSsl}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=${keystore}
ssl.keystore.password=${storePassword}
ssl.key.password=${storePassword}
ssl.client.auth=none
log.dirs=${dataDir}
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
`;
}

const LOG4J_PROPERTIES = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
`;

/**
 * A random KRaft cluster id (base64url of 16 bytes, as `kafka-storage random-uuid` prints), never
 * starting with '-': the storage tool would read such an id as an option and refuse to format.
 */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}
