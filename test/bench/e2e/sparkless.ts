import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { StageTotals } from "../../../localstack/esm/stage-profile.ts";
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
  /** Time every stage (`StageProfile`) and, with `cpuProfDir`, run under `node --cpu-prof`. */
  profile?: boolean;
  cpuProfDir?: string;
  /** Records per invocation instead of the default's (tuning runs only). */
  batchSize?: number;
  watermarkFrom?: "max" | "sources";
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
    batchSize: options.batchSize,
    watermarkFrom: options.watermarkFrom,
    ...(options.profile ? { profileFile: join(options.logDir, `${name}.profile.json`) } : {}),
  };
  const logFile = join(options.logDir, `${name}.log`);
  const cpuProf = options.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", options.cpuProfDir] : [];
  const { child, spawnedMs, markedMs, exited } = await spawnUntilMarker(
    process.execPath,
    [...cpuProf, "--import", "tsx", join(import.meta.dirname, "pipeline-process.ts")],
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
    profile() {
      const file = settings.profileFile;
      if (!file || !existsSync(file)) return undefined;
      return JSON.parse(readFileSync(file, "utf8")) as StageSnapshot;
    },
    async stop() {
      const peaks = peakMemoryMb({ pipeline: pid });
      await stopProcessTree(pid);
      return peaks;
    },
  };
}

/** What the pipeline process's `StageProfile` wrote last. */
export interface StageSnapshot {
  readonly wallMs: number;
  readonly stages: Record<string, StageTotals>;
  readonly counters: Record<string, number>;
}
