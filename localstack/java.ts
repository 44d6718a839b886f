import { execFile, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { promisify } from "node:util";
import { LocalServerError } from "./errors.ts";

const execFileAsync = promisify(execFile);

/** Runs a short tool (java, keytool, mvn) to completion; failure carries its output. */
export async function run(command: string, args: readonly string[], what: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === "ENOENT") {
      throw new LocalServerError(
        `${what}: '${command}' is not installed or not on PATH. The local servers need ` +
          "Java 17+ and Maven (see README, Prerequisites).",
        { cause: error },
      );
    }
    const output = `${e.stdout ?? ""}${e.stderr ?? ""}`.trim().split("\n").slice(-20).join("\n");
    throw new LocalServerError(`${what} failed: ${command} ${args.join(" ")}\n${output}`, {
      cause: error,
    });
  }
}

let javaChecked: Promise<void> | undefined;

/** Fails with a clear message unless `java` 17+ is on the PATH. Checked once per process. */
export function requireJava17(): Promise<void> {
  javaChecked ??= (async () => {
    const { stderr } = await execFileAsync("java", ["-version"]).catch((error: unknown) => {
      throw new LocalServerError(
        "Java 17+ is required to run the local Kafka and DynamoDB servers, and 'java' is not on " +
          "PATH. Install a JDK 17 (e.g. 'apt-get install openjdk-17-jdk-headless').",
        { cause: error },
      );
    });
    const major = Number(/version "(\d+)/.exec(stderr)?.[1] ?? 0);
    if (major < 17) {
      throw new LocalServerError(
        `Java 17+ is required, 'java -version' says: ${stderr.split("\n")[0]}`,
      );
    }
  })();
  return javaChecked;
}

/**
 * Starts a long-running JVM in its own process group with stdout and stderr appended to
 * `logFile`, running in `cwd`. Detached so a Ctrl-C aimed at our process does not kill it before we stop it in order.
 */
export function spawnJava(args: readonly string[], logFile: string, cwd: string): number {
  const fd = openSync(logFile, "a");
  try {
    // cwd: servers drop files where they run (DynamoDB Local its metadata); keep them in the state dir.
    const child = spawn("java", args, { cwd, detached: true, stdio: ["ignore", fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new LocalServerError(`could not start java; see ${logFile}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}
