import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Servers } from "../../../localstack/servers.ts";
import { childPids } from "../e2e/memory.ts";
import {
  peakMemoryMb,
  type RunningSystem,
  spawnUntilMarker,
  stopProcessTree,
} from "../e2e/process.ts";
import type { SparkInstall } from "./install.ts";

/** How Spark reaches the broker: as MSK clients do, or the fallback. */
export type SparkProtocol = "SASL_SSL" | "PLAINTEXT";

/**
 * Starts the seed's PySpark job (`user_spending.py`) with `spark-submit`, local[2], reading
 * `input` from the earliest offset; resolves once its query started. spark-submit execs the
 * driver JVM, so the spawned pid is the JVM; the Python driver is its child.
 */
export async function startSpark(options: {
  install: SparkInstall;
  servers: Servers;
  protocol: SparkProtocol;
  input: string;
  output: string;
  logFile: string;
}): Promise<RunningSystem> {
  const { install, servers } = options;
  const checkpointDir = mkdtempSync(join(tmpdir(), "bench-spark-checkpoint-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...kafkaEnv(servers, options.protocol),
    INPUT_TOPIC: options.input,
    OUTPUT_TOPIC: options.output,
    CHECKPOINT_DIR: checkpointDir,
    PYSPARK_PYTHON: install.python,
    PYSPARK_DRIVER_PYTHON: install.python,
    // Spark binds to the host's address by default: keep everything on loopback.
    SPARK_LOCAL_IP: "127.0.0.1",
  };
  const { child, spawnedMs, markedMs, exited } = await spawnUntilMarker(
    install.sparkSubmit,
    [
      "--master",
      "local[2]",
      "--conf",
      "spark.driver.host=127.0.0.1",
      "--jars",
      install.jars.join(","),
      join(import.meta.dirname, "user_spending.py"),
    ],
    { env, logFile: options.logFile, marker: "QUERY_STARTED", timeoutMs: 180_000 },
  );
  const jvm = child.pid as number;
  const pids = (): Record<string, number> => {
    const python = childPids(jvm).find((pid) => commandOf(pid).startsWith("python"));
    return python === undefined ? { sparkJvm: jvm } : { sparkJvm: jvm, sparkPython: python };
  };
  return {
    spawnedMs,
    startedMs: markedMs,
    pids,
    exited,
    logFile: options.logFile,
    async stop() {
      const peaks = peakMemoryMb(pids());
      await stopProcessTree(jvm);
      rmSync(checkpointDir, { recursive: true, force: true });
      return peaks;
    },
  };
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** The connection settings `user_spending.py` reads. */
function kafkaEnv(servers: Servers, protocol: SparkProtocol): Record<string, string> {
  const { kafka, embedded } = servers;
  if (protocol === "PLAINTEXT") {
    const port = embedded.kafka?.ports.plaintext;
    if (port === undefined) throw new Error("PLAINTEXT needs the embedded broker");
    return { KAFKA_BOOTSTRAP: `127.0.0.1:${port}` };
  }
  const caPath = embedded.kafka?.caPemPath;
  if (kafka.sasl?.mechanism !== "scram-sha-512" || !caPath)
    throw new Error("SASL_SSL here means the embedded broker's SCRAM-SHA-512 listener");
  return {
    KAFKA_BOOTSTRAP: kafka.brokers.join(","),
    KAFKA_SASL_USERNAME: kafka.sasl.username,
    KAFKA_SASL_PASSWORD: kafka.sasl.password,
    KAFKA_SSL_CA: caPath,
  };
}
