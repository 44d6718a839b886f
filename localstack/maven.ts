import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { LocalServerError } from "./errors.ts";
import { jarsDir, pomPath } from "./paths.ts";

const STAMP = ".resolved";

/**
 * Makes sure the jars named by `localstack/maven/<name>.pom.xml` are in the cache and returns
 * their folder. The first call downloads them from Maven Central with
 * `mvn dependency:copy-dependencies`; later calls find the stamp (the pom's hash) and need no
 * network. A changed pom resolves again.
 */
export async function ensureJars(name: string, log: (line: string) => void): Promise<string> {
  const pom = pomPath(name);
  const target = jarsDir(name);
  const pomHash = createHash("sha256").update(readFileSync(pom)).digest("hex");
  const stampFile = join(target, STAMP);
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === pomHash) return target;

  log(`Resolving ${name} jars from Maven Central into ${target} (first start only)…`);
  const staging = `${target}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(dirname(target), { recursive: true });
  const startedMs = Date.now();
  const fetched = await copyDependencies(pom, staging, name, log);
  writeFileSync(join(staging, STAMP), pomHash);
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
  log(
    `  ${name}: ${readdirSync(target).length - 1} files cached in ${seconds(Date.now() - startedMs)} (${describeFetched(fetched, true)}).`,
  );
  return target;
}

/** What Maven downloaded so far. */
export interface Fetched {
  files: number;
  bytes: number;
  /** The file being downloaded now (or last), for the progress line. */
  current: string | undefined;
}

// How often the progress line is repeated while Maven runs.
const PROGRESS_EVERY_MS = 3_000;

/**
 * Runs `mvn dependency:copy-dependencies` for `pom` into `outputDir`, logging what is fetched and
 * the elapsed time every few seconds (a first resolution downloads ~100 MB and can take a
 * minute). `extraArgs` (e.g. `-Dmaven.repo.local=…`) go to Maven as they are.
 */
export async function copyDependencies(
  pom: string,
  outputDir: string,
  name: string,
  log: (line: string) => void,
  extraArgs: readonly string[] = [],
): Promise<Fetched> {
  const args = [
    "--batch-mode",
    "-Dstyle.color=never",
    "-f",
    pom,
    "dependency:copy-dependencies",
    `-DoutputDirectory=${outputDir}`,
    "-DincludeScope=runtime",
    ...extraArgs,
  ];
  const fetched: Fetched = { files: 0, bytes: 0, current: undefined };
  const tail: string[] = [];
  const startedMs = Date.now();
  const child = spawn("mvn", args, { stdio: ["ignore", "pipe", "pipe"] });
  const ticker = setInterval(() => {
    log(
      `  ${name}: ${seconds(Date.now() - startedMs)}, ${describeFetched(fetched)}${fetched.current ? ` · now ${fetched.current}` : ""}`,
    );
  }, PROGRESS_EVERY_MS);
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    const transfer = parseTransferLine(line);
    if (transfer?.kind === "downloading") fetched.current = transfer.file;
    if (transfer?.kind === "downloaded") {
      fetched.files++;
      fetched.bytes += transfer.bytes;
    }
  };
  createInterface({ input: child.stdout }).on("line", onLine);
  createInterface({ input: child.stderr }).on("line", onLine);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    if (code !== 0) {
      throw new LocalServerError(
        `Resolving the ${name} jars with Maven failed: mvn ${args.join(" ")}\n${tail.join("\n")}`,
      );
    }
    return fetched;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new LocalServerError(
        `Resolving the ${name} jars with Maven: 'mvn' is not installed or not on PATH. The local ` +
          "servers need Java 17+ and Maven (see README, Prerequisites).",
        { cause: error },
      );
    }
    throw error;
  } finally {
    clearInterval(ticker);
  }
}

const UNIT_BYTES: Readonly<Record<string, number>> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 };

/**
 * One line of Maven's batch-mode transfer log, e.g.
 * `[INFO] Downloaded from central: https://…/kafka_2.13-3.9.2.jar (6.6 MB at 3.1 MB/s)`.
 */
export function parseTransferLine(
  line: string,
):
  | { kind: "downloading"; file: string }
  | { kind: "downloaded"; file: string; bytes: number }
  | undefined {
  const downloading = /Downloading from [^:]+: (\S+)/.exec(line);
  if (downloading) return { kind: "downloading", file: basename(downloading[1] ?? "") };
  const downloaded = /Downloaded from [^:]+: (\S+) \(([\d.]+) (B|kB|KB|MB|GB)/.exec(line);
  if (!downloaded) return undefined;
  const bytes = Number(downloaded[2]) * (UNIT_BYTES[downloaded[3] ?? "B"] ?? 1);
  return { kind: "downloaded", file: basename(downloaded[1] ?? ""), bytes };
}

function describeFetched(fetched: Fetched, done = false): string {
  if (fetched.files > 0)
    return `${fetched.files} files, ${(fetched.bytes / 1e6).toFixed(1)} MB downloaded`;
  return done
    ? "all found in the local Maven repository, nothing downloaded"
    : "nothing downloaded yet";
}

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;
