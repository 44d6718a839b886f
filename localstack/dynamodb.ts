import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { createDynamoDbClient } from "../shared/dynamodb/client.ts";
import { requireJava17, spawnJava } from "./java.ts";
import { ensureJars } from "./maven.ts";
import { waitUntilReady } from "./process.ts";

export interface EmbeddedDynamoDb {
  readonly pid: number;
  readonly port: number;
  /** What the AWS SDK takes as `endpoint` / `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint: string;
  readonly logFile: string;
}

const START_TIMEOUT_MS = 60_000;

/**
 * Starts DynamoDB Local 3.x in memory from the cached Maven Central jars (sqlite4java's native
 * library is found on `java.library.path`, where Maven copied it) and returns once `ListTables`
 * answers.
 */
export async function startDynamoDb(
  stateDir: string,
  port: number,
  log: (line: string) => void,
): Promise<EmbeddedDynamoDb> {
  await requireJava17();
  const jars = await ensureJars("dynamodb", log);
  const logFile = join(stateDir, "dynamodb.log");
  writeFileSync(logFile, "");
  const pid = spawnJava(
    [
      "-Xmx512m",
      "-Djava.awt.headless=true",
      `-Dsparkless.state=${stateDir}`,
      `-Djava.library.path=${jars}`,
      "-cp",
      `${jars}/*`,
      "software.amazon.dynamodb.services.local.main.ServerRunner",
      // -sharedDb: one database whatever the credentials and region, as clients here vary them.
      "-inMemory",
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
  return { pid, port, endpoint, logFile };
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
