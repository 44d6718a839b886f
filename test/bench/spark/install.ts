import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ensureJars } from "../../../localstack/maven.ts";
import { repoRoot } from "../../../localstack/paths.ts";

/**
 * PySpark and its Kafka connector must be the same Spark version. 3.5.7: the newest 3.5.x whose
 * connector Maven Central serves here; 3.5 runs on Java 17 and is Scala 2.12 like the wheel.
 */
export const SPARK_VERSION = "3.5.7";

const sparkCache = join(repoRoot, ".cache", "spark");
const venvDir = join(sparkCache, "venv");
const STAMP = ".installed";

export interface SparkInstall {
  /** `spark-submit` of the venv's pyspark. */
  readonly sparkSubmit: string;
  readonly python: string;
  /** The Kafka connector and the dependencies the wheel lacks, for `--jars`. */
  readonly jars: readonly string[];
  /** What this call installed (0 when everything was cached). */
  readonly installSeconds: number;
  /** Size of `.cache/spark` (venv + jars) after the install. */
  readonly diskMb: number;
}

/**
 * Installs PySpark into `.cache/spark/venv` from PyPI and the Kafka connector jars
 * (`localstack/maven/spark-kafka.pom.xml`) from Maven Central, once: stamps (the version, the
 * pom's hash) make later calls instant and offline. An interrupted install starts over.
 */
export async function ensureSpark(log: (line: string) => void): Promise<SparkInstall> {
  const startedMs = Date.now();
  const python = await ensurePySpark(log);
  // The connector's jars come through the same Maven cache as the local servers' jars.
  const jarsDir = await ensureJars("spark-kafka", log);
  const installSeconds = (Date.now() - startedMs) / 1000;
  const diskMb = (folderBytes(sparkCache) + folderBytes(jarsDir)) / 2 ** 20;
  if (installSeconds > 1)
    log(`Spark installed in ${installSeconds.toFixed(0)} s, ${diskMb.toFixed(0)} MB on disk.`);
  return {
    sparkSubmit: join(venvDir, "bin", "spark-submit"),
    python,
    jars: readdirSync(jarsDir)
      .filter((f) => f.endsWith(".jar"))
      .map((f) => join(jarsDir, f)),
    installSeconds: installSeconds > 1 ? installSeconds : 0,
    diskMb,
  };
}

/**
 * PySpark alone (what a batch job such as the parity test needs: no Kafka connector), into
 * `.cache/spark/venv`, once. pip is quiet for most of its minute (a 317 MB download, then a
 * wheel build), so a line every 10 s says it is still at work. Returns the venv's python.
 */
export async function ensurePySpark(log: (line: string) => void): Promise<string> {
  const python = join(venvDir, "bin", "python");
  if (readStamp(venvDir) === SPARK_VERSION) return python;
  const startedMs = Date.now();
  log(`Installing PySpark ${SPARK_VERSION} into ${venvDir} from PyPI (first run only, ~320 MB)…`);
  const heartbeat = setInterval(
    () => log(`  … pip still working (${((Date.now() - startedMs) / 1000).toFixed(0)} s)`),
    10_000,
  );
  try {
    rmSync(venvDir, { recursive: true, force: true });
    mkdirSync(sparkCache, { recursive: true });
    await runLogged("python3", ["-m", "venv", venvDir], log);
    await runLogged(
      python,
      [
        "-m",
        "pip",
        "install",
        "--no-cache-dir",
        "--progress-bar",
        "off",
        `pyspark==${SPARK_VERSION}`,
      ],
      log,
    );
    writeFileSync(join(venvDir, STAMP), SPARK_VERSION);
  } finally {
    clearInterval(heartbeat);
  }
  log(`PySpark installed in ${((Date.now() - startedMs) / 1000).toFixed(0)} s.`);
  return python;
}

function readStamp(dir: string): string | undefined {
  const file = join(dir, STAMP);
  return existsSync(file) ? readFileSync(file, "utf8") : undefined;
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/** Runs an installer to completion, passing its output on line by line as progress. */
function runLogged(command: string, args: readonly string[], log: (line: string) => void) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        // biome-ignore lint/suspicious/noControlCharactersInRegex: Maven's colour codes
        const text = line.replace(/\x1b\[[0-9;]*m/g, "").trimEnd();
        if (text.trim()) log(`  ${text}`);
      });
    }
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`${command} ${args.join(" ")} exited with ${code}:\n${tail.join("\n")}`),
          ),
    );
  });
}
