import { join } from "node:path";
import { clientEnv, type Servers } from "../../../localstack/servers.ts";
import { peakMemoryMb, type RunningSystem, spawnUntilMarker, stopProcessTree } from "./process.ts";

/**
 * Starts the default pipeline (the real handlers through the local event-source-mapping runner)
 * in a child process reading `input` from the earliest offset; resolves once it runs.
 */
export async function startSparkless(options: {
  servers: Servers;
  name: string;
  input: string;
  output: string;
  logDir: string;
  partitions?: number;
}): Promise<RunningSystem> {
  const { servers, name } = options;
  const settings = {
    name,
    input: options.input,
    output: options.output,
    kafka: servers.kafka,
    dynamoDbEndpoint: servers.dynamoDbEndpoint,
    tableName: `${name}-state`,
    partitions: options.partitions,
  };
  const logFile = join(options.logDir, `${name}.log`);
  const { child, spawnedMs, markedMs, exited } = await spawnUntilMarker(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "pipeline-process.ts")],
    {
      env: {
        ...process.env,
        ...clientEnv(servers), // AWS region and credentials DynamoDB Local accepts
        SPARKLESS_BENCH_PIPELINE: JSON.stringify(settings),
      },
      logFile,
      marker: "STARTING",
      timeoutMs: 60_000,
    },
  );
  const pid = child.pid as number;
  return {
    spawnedMs,
    startedMs: markedMs,
    pids: () => ({ pipeline: pid }),
    exited,
    logFile,
    async stop() {
      const peaks = peakMemoryMb({ pipeline: pid });
      await stopProcessTree(pid);
      return peaks;
    },
  };
}
