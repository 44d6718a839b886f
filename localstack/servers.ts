import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type KafkaConnection, kafkaConnectionFromEnv } from "../shared/kafka/connection.ts";
import {
  dynamoDbDataDir,
  type EmbeddedDynamoDb,
  probeDynamoDb,
  startDynamoDb,
} from "./dynamodb.ts";
import { LocalServerError } from "./errors.ts";
import { type EmbeddedKafka, LOCAL_SCRAM_USER, probeKafka, startKafka } from "./kafka.ts";
import { cacheDir, stateDir } from "./paths.ts";
import { claimPorts, portFromEnv } from "./ports.ts";
import { isRunning, killNow, stopProcess } from "./process.ts";

/**
 * Names a set of servers and their state folder. `dev` (`npm start`, `npm run infra:up`) listens
 * on fixed ports; any other profile (`test` for the test run) on free ones unless told otherwise.
 */
export type Profile = string;

/** Fixed ports of the `dev` profile, each overridable by its environment variable (0 = any). */
export const DEV_PORTS = {
  SPARKLESS_KAFKA_PORT: 9092,
  SPARKLESS_KAFKA_SASL_PORT: 9096,
  SPARKLESS_KAFKA_CONTROLLER_PORT: 9093,
  SPARKLESS_DYNAMODB_PORT: 8000,
} as const;

/** Where the pipeline's Kafka and DynamoDB are, embedded or external. */
export interface Servers {
  readonly kafka: KafkaConnection;
  /** `undefined`: the AWS SDK's own endpoint resolution (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, AWS). */
  readonly dynamoDbEndpoint: string | undefined;
  /** Processes this project started (absent for an external server). */
  readonly embedded: { readonly kafka?: EmbeddedKafka; readonly dynamodb?: EmbeddedDynamoDb };
}

export interface StartOptions {
  readonly profile: Profile;
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
  /** DynamoDB Local keeps its database on disk, so it can be restarted (outage tests). @default false */
  readonly dynamoDbOnDisk?: boolean;
}

/**
 * Starts what the environment does not provide: the embedded Kafka unless `KAFKA_BROKERS` is
 * set, DynamoDB Local unless `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` is set. External
 * servers are health-checked too. Records the started processes so `stopServers` (or another
 * process running `npm run infra:down`) can stop them.
 */
export async function startServers(options: StartOptions): Promise<Servers> {
  // A port found free can be taken by someone else's outgoing connection before the JVM binds it
  // (free ports and client ports share the ephemeral range); with ports chosen for us, try again.
  const anyPorts = options.profile !== "dev";
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServersOnce(options);
    } catch (error) {
      const lostRace =
        error instanceof LocalServerError &&
        /Address already in use|BindException/.test(error.message);
      if (!anyPorts || !lostRace || attempt === 3) throw error;
    }
  }
}

async function startServersOnce(options: StartOptions): Promise<Servers> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.error(line));
  const dir = stateDir(options.profile);
  mkdirSync(dir, { recursive: true });

  const externalKafka = kafkaConnectionFromEnv(env);
  const externalDynamoDb = env.AWS_ENDPOINT_URL_DYNAMODB?.trim() || env.AWS_ENDPOINT_URL?.trim();
  const running = externalKafka && externalDynamoDb ? undefined : readState(options.profile);
  if (running) {
    const owner = readOwner(options.profile);
    if (options.profile === "dev" || (owner !== undefined && isAlive(owner))) {
      throw new LocalServerError(
        `The local servers of profile '${options.profile}' are already running (${describe(running)}). ` +
          "Use them, or stop them first with 'npm run infra:down'.",
      );
    }
    await stopServers(options.profile); // left over by a run that was killed
  }

  const wanted = portRequests(options.profile, env).filter((r) =>
    r.kind === "kafka" ? !externalKafka : !externalDynamoDb,
  );
  const claimed = await claimPorts(wanted);
  const port = (envVar: keyof typeof DEV_PORTS) =>
    claimed[wanted.findIndex((r) => r.envVar === envVar)] as number;

  const startedKafka = externalKafka
    ? probeExternal("Kafka", `KAFKA_BROKERS=${env.KAFKA_BROKERS}`, () => probeKafka(externalKafka))
    : startKafka(
        dir,
        {
          plaintext: port("SPARKLESS_KAFKA_PORT"),
          saslSsl: port("SPARKLESS_KAFKA_SASL_PORT"),
          controller: port("SPARKLESS_KAFKA_CONTROLLER_PORT"),
        },
        log,
      );
  const startedDynamoDb = externalDynamoDb
    ? probeExternal("DynamoDB", externalDynamoDb, () => probeDynamoDb(undefined))
    : startDynamoDb(dir, port("SPARKLESS_DYNAMODB_PORT"), log, {
        onDisk: options.dynamoDbOnDisk ?? false,
      });

  const [kafka, dynamodb] = await Promise.allSettled([startedKafka, startedDynamoDb]);
  const embedded = {
    ...(kafka.status === "fulfilled" && kafka.value ? { kafka: kafka.value } : {}),
    ...(dynamodb.status === "fulfilled" && dynamodb.value ? { dynamodb: dynamodb.value } : {}),
  };
  // Only what this call started is recorded: external servers are never ours to stop.
  if (embedded.kafka || embedded.dynamodb) writeState(options.profile, embedded);
  const failure = [kafka, dynamodb].find((r) => r.status === "rejected");
  if (failure) {
    // Stop what this call started, and only that.
    if (embedded.kafka || embedded.dynamodb) await stopServers(options.profile);
    throw failure.reason;
  }
  return {
    kafka: embedded.kafka?.connection ?? (externalKafka as KafkaConnection),
    dynamoDbEndpoint: embedded.dynamodb?.endpoint,
    embedded,
  };
}

/** Stops the servers recorded for `profile` (no-op when none run). */
export async function stopServers(profile: Profile): Promise<void> {
  const state = readState(profile);
  const marker = stateDir(profile);
  if (state) {
    await Promise.all(
      [state.kafka?.pid, state.dynamodb?.pid]
        .filter((pid): pid is number => pid !== undefined)
        .map((pid) => stopProcess(pid, marker)),
    );
  }
  rmSync(statePath(profile), { force: true });
  rmSync(join(marker, "kafka-data"), { recursive: true, force: true });
  rmSync(dynamoDbDataDir(marker), { recursive: true, force: true });
}

/** Kills the recorded servers without waiting: for `process.on('exit')`, where nothing async runs. */
export function killServersNow(profile: Profile): void {
  const state = readState(profile);
  for (const pid of [state?.kafka?.pid, state?.dynamodb?.pid]) {
    if (pid !== undefined) killNow(pid, stateDir(profile));
  }
}

/** The servers recorded for `profile` whose processes still run, or `undefined`. */
export function readState(profile: Profile): Servers["embedded"] | undefined {
  const path = statePath(profile);
  if (!existsSync(path)) return undefined;
  const state = JSON.parse(readFileSync(path, "utf8")) as Servers["embedded"];
  const marker = stateDir(profile);
  const alive = {
    ...(state.kafka && isRunning(state.kafka.pid, marker) ? { kafka: state.kafka } : {}),
    ...(state.dynamodb && isRunning(state.dynamodb.pid, marker)
      ? { dynamodb: state.dynamodb }
      : {}),
  };
  return alive.kafka || alive.dynamodb ? alive : undefined;
}

/** One line per running server, for humans. */
export function describe(embedded: Servers["embedded"]): string {
  const parts: string[] = [];
  if (embedded.kafka) {
    const { ports, pid } = embedded.kafka;
    parts.push(
      `Kafka pid ${pid}: SASL_SSL/SCRAM-SHA-512 127.0.0.1:${ports.saslSsl}, PLAINTEXT 127.0.0.1:${ports.plaintext}`,
    );
  }
  if (embedded.dynamodb) {
    parts.push(`DynamoDB Local pid ${embedded.dynamodb.pid}: ${embedded.dynamodb.endpoint}`);
  }
  return parts.join("; ");
}

/**
 * The environment a client process (our CLI tools, a test, your own script) sets to use these
 * servers in external mode: the variables of README § Environment.
 */
export function clientEnv(servers: Servers): Record<string, string> {
  const env: Record<string, string> = {};
  const { kafka, dynamodb } = servers.embedded;
  if (kafka) {
    env.KAFKA_BROKERS = kafka.connection.brokers.join(",");
    env.KAFKA_SASL_MECHANISM = "scram-sha-512";
    env.KAFKA_SASL_USERNAME = LOCAL_SCRAM_USER.username;
    env.KAFKA_SASL_PASSWORD = LOCAL_SCRAM_USER.password;
    env.KAFKA_SSL_CA = kafka.caPemPath;
  }
  if (dynamodb) {
    env.AWS_ENDPOINT_URL_DYNAMODB = dynamodb.endpoint;
    Object.assign(env, LOCAL_AWS_ENV);
  }
  return env;
}

/** DynamoDB Local accepts any credentials, but the SDK insists on having some and a region. */
export const LOCAL_AWS_ENV = {
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "local",
  AWS_SECRET_ACCESS_KEY: "local",
} as const;

async function probeExternal(
  what: string,
  where: string,
  probe: () => Promise<void>,
): Promise<undefined> {
  try {
    await probe();
    return undefined;
  } catch (error) {
    throw new LocalServerError(`Cannot reach the external ${what} at ${where}: ${String(error)}`, {
      cause: error,
    });
  }
}

function portRequests(profile: Profile, env: NodeJS.ProcessEnv) {
  const port = (envVar: keyof typeof DEV_PORTS) =>
    portFromEnv(env, envVar, profile === "dev" ? DEV_PORTS[envVar] : 0);
  const requests = [
    { kind: "kafka", envVar: "SPARKLESS_KAFKA_PORT", purpose: "Kafka PLAINTEXT listener" },
    { kind: "kafka", envVar: "SPARKLESS_KAFKA_SASL_PORT", purpose: "Kafka SASL_SSL listener" },
    { kind: "kafka", envVar: "SPARKLESS_KAFKA_CONTROLLER_PORT", purpose: "Kafka KRaft controller" },
    { kind: "dynamodb", envVar: "SPARKLESS_DYNAMODB_PORT", purpose: "DynamoDB Local" },
  ] as const;
  return requests.map((r) => ({ ...r, port: port(r.envVar) }));
}

const statePath = (profile: Profile) => join(stateDir(profile), "servers.json");

/**
 * Records the servers of `profile` as this process's, so `stopServers`, `killServersNow` and
 * `reapOrphans` find them: also for a server restarted under a new pid (outage tests).
 */
export function writeState(profile: Profile, embedded: Servers["embedded"]): void {
  writeFileSync(
    statePath(profile),
    `${JSON.stringify({ ...embedded, ownerPid: process.pid }, null, 2)}\n`,
  );
}

/** The pid of the process that started the profile's servers. */
function readOwner(profile: Profile): number | undefined {
  const path = statePath(profile);
  if (!existsSync(path)) return undefined;
  return (JSON.parse(readFileSync(path, "utf8")) as { ownerPid?: number }).ownerPid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the servers of profiles named `<prefix>…` whose owning process is gone (a test run killed
 * before its teardown), so runs that die never leave JVMs behind for long.
 */
export async function reapOrphans(prefix: string): Promise<void> {
  if (!existsSync(cacheDir)) return;
  for (const profile of readdirSync(cacheDir).filter((d) => d.startsWith(prefix))) {
    // A run that is still starting has its directory but no state file yet: its profile name
    // ends with its pid (`test-<pid>`), so it is not taken for an orphan and wiped meanwhile.
    const owner = readOwner(profile) ?? Number(/-(\d+)$/.exec(profile)?.[1] ?? Number.NaN);
    if (Number.isInteger(owner) && isAlive(owner)) continue;
    await stopServers(profile);
    rmSync(stateDir(profile), { recursive: true, force: true });
  }
}
