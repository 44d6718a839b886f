import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { createDynamoDbClient } from "../shared/dynamodb/client.ts";
import { LocalServerError } from "./errors.ts";
import { requireJava17, spawnJava } from "./java.ts";
import { ensureJars } from "./maven.ts";
import { jarsDir } from "./paths.ts";
import { stopProcess, waitUntilReady } from "./process.ts";

export interface EmbeddedDynamoDb {
  readonly pid: number;
  readonly port: number;
  /** What the AWS SDK takes as `endpoint` / `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint: string;
  readonly logFile: string;
  /** The folder of the on-disk database; absent when it runs in memory (the default). */
  readonly dbPath?: string;
}

export interface DynamoDbOptions {
  /**
   * Keep the database in a file under the state folder (`-dbPath`) instead of in memory, so a
   * restart ({@link restartDynamoDb}) finds its tables again. Each start still begins empty.
   * @default false
   */
  readonly onDisk?: boolean;
}

const START_TIMEOUT_MS = 60_000;

/**
 * Starts DynamoDB Local 3.x, in memory unless asked for on disk, from the cached Maven Central
 * jars (sqlite4java's native library is found on `java.library.path`, where Maven copied it) and
 * returns once `ListTables` answers.
 */
export async function startDynamoDb(
  stateDir: string,
  port: number,
  log: (line: string) => void,
  options: DynamoDbOptions = {},
): Promise<EmbeddedDynamoDb> {
  await requireJava17();
  await ensureJars("dynamodb", log);
  const logFile = join(stateDir, "dynamodb.log");
  writeFileSync(logFile, "");
  const dbPath = options.onDisk ? dynamoDbDataDir(stateDir) : undefined;
  if (dbPath) {
    // Like Kafka's storage: every start is a clean database, only a restart keeps it.
    rmSync(dbPath, { recursive: true, force: true });
    mkdirSync(dbPath, { recursive: true });
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const pid = await launch(stateDir, port, logFile, dbPath);
  return { pid, port, endpoint, logFile, ...(dbPath ? { dbPath } : {}) };
}

/**
 * Stops DynamoDB Local if it still runs and starts it again on the same port and database file:
 * a DynamoDB that went down and comes back, for outage tests. Only an on-disk one keeps its data.
 */
export async function restartDynamoDb(
  stateDir: string,
  dynamodb: EmbeddedDynamoDb,
): Promise<EmbeddedDynamoDb> {
  if (!dynamodb.dbPath) {
    throw new LocalServerError("DynamoDB Local runs in memory: a restart would lose every table");
  }
  await stopProcess(dynamodb.pid, stateDir);
  const pid = await launch(stateDir, dynamodb.port, dynamodb.logFile, dynamodb.dbPath);
  return { ...dynamodb, pid };
}

/** Where an on-disk DynamoDB Local keeps its database inside its state folder. */
export const dynamoDbDataDir = (stateDir: string): string => join(stateDir, "dynamodb-data");

async function launch(
  stateDir: string,
  port: number,
  logFile: string,
  dbPath: string | undefined,
): Promise<number> {
  const jars = jarsDir("dynamodb");
  const pid = spawnJava(
    [
      "-Xmx512m",
      "-Djava.awt.headless=true",
      `-Dsparkless.state=${stateDir}`,
      `-Djava.library.path=${jars}`,
      "-cp",
      `${jars}/*`,
      "software.amazon.dynamodb.services.local.main.ServerRunner",
      ...(dbPath ? ["-dbPath", dbPath] : ["-inMemory"]),
      // -sharedDb: one database whatever the credentials and region, as clients here vary them.
      "-sharedDb",
      "-port",
      String(port),
    ],
    logFile,
    stateDir,
  );
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilReady({
    what: "DynamoDB Local",
    pid,
    marker: stateDir,
    logFile,
    timeoutMs: START_TIMEOUT_MS,
    probe: () => probeDynamoDb(endpoint),
  });
  return pid;
}

/** Lists tables through the AWS SDK; throws unless DynamoDB answers at `endpoint`. */
export async function probeDynamoDb(endpoint: string | undefined): Promise<void> {
  const client = createDynamoDbClient(endpoint, { maxAttempts: 1 });
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }));
  } finally {
    client.destroy();
  }
}
