import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { childPids, statusMb } from "./memory.ts";

/** A system under test running in processes of its own. */
export interface RunningSystem {
  /** When it was spawned and when it began consuming (wall clock, ms). */
  readonly spawnedMs: number;
  readonly startedMs: number;
  /** Its processes by label, for memory sampling. */
  pids(): Record<string, number>;
  /** Resolves with the exit code when the process ends (early means it failed). */
  readonly exited: Promise<number | null>;
  /** Reads each process's peak memory (VmHWM, MB), then stops them. */
  stop(): Promise<Record<string, number>>;
  readonly logFile: string;
  /** The per-stage profile so far, when the system was started with one. */
  profile?(): unknown;
}

/**
 * Spawns a process with its output appended to `logFile` and resolves once it prints
 * `<marker> <epoch ms>`, with that time. Rejects if it exits first, with the end of its log.
 */
export async function spawnUntilMarker(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; logFile: string; marker: string; timeoutMs: number },
): Promise<{
  child: ChildProcess;
  spawnedMs: number;
  markedMs: number;
  exited: Promise<number | null>;
}> {
  const spawnedMs = Date.now();
  const child = spawn(command, args, { env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  const log = createWriteStream(options.logFile, { flags: "a" });
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const marked = new Promise<number>((resolve) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      log.write(`${line}\n`);
      const [word, ms] = line.split(" ");
      if (word === options.marker) resolve(Number(ms));
    });
  });
  const outcome = await Promise.race([
    marked,
    exited.then((code) => new Error(`exited with ${code} before it started`)),
    // Unref'd: a pending start-up timeout must not keep the bench alive once all is done.
    sleep(options.timeoutMs, undefined, { ref: false }).then(
      () => new Error(`did not start within ${options.timeoutMs} ms`),
    ),
  ]);
  if (outcome instanceof Error) {
    await stopProcessTree(child.pid);
    const tail = readFileSync(options.logFile, "utf8").trim().split("\n").slice(-15).join("\n");
    throw new Error(`${command} ${outcome.message}; end of ${options.logFile}:\n${tail}`);
  }
  return { child, spawnedMs, markedMs: outcome, exited };
}

/** Peak memory (VmHWM, MB, rounded) of labelled processes that still run. */
export function peakMemoryMb(pids: Record<string, number>): Record<string, number> {
  const peaks: Record<string, number> = {};
  for (const [label, pid] of Object.entries(pids)) {
    const mb = statusMb(pid, "VmHWM");
    if (mb !== undefined) peaks[label] = Math.round(mb);
  }
  return peaks;
}

/**
 * Stops a process we spawned and its direct children (Spark's Python driver), by pid: SIGTERM,
 * then SIGKILL after 15 s.
 */
export async function stopProcessTree(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  const all = [pid, ...childPids(pid)];
  signal(all, "SIGTERM");
  for (let i = 0; i < 150 && all.some(alive); i++) await sleep(100);
  signal(all.filter(alive), "SIGKILL");
}

function signal(pids: readonly number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return statusMb(pid, "VmRSS") !== undefined; // a zombie has no resident memory
  } catch {
    return false;
  }
}
