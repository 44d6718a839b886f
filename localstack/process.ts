import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { LocalServerError } from "./errors.ts";

/** True while `pid` runs and its command line contains `marker` (guards against reused pids). */
export function isRunning(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const cmdline = `/proc/${pid}/cmdline`;
  // Without /proc (macOS) the liveness check above is all we have.
  if (!existsSync(cmdline)) return true;
  try {
    return readFileSync(cmdline, "utf8").includes(marker);
  } catch {
    return false;
  }
}

/**
 * Stops a server we started (its own process group): SIGTERM for a clean shutdown, SIGKILL if it
 * is still there after `graceMs`. Only touches the pid when it still carries our `marker`.
 */
export async function stopProcess(pid: number, marker: string, graceMs = 10_000): Promise<void> {
  if (!isRunning(pid, marker)) return;
  signalGroup(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isRunning(pid, marker)) return;
    await sleep(100);
  }
  signalGroup(pid, "SIGKILL");
  while (isRunning(pid, marker)) await sleep(50);
}

/** Synchronous last resort for `process.on('exit')`: kill without waiting. */
export function killNow(pid: number, marker: string): void {
  if (isRunning(pid, marker)) signalGroup(pid, "SIGKILL");
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** What {@link waitUntilReady} watches. */
export interface ReadinessWatch {
  readonly what: string;
  readonly pid: number;
  readonly marker: string;
  readonly logFile: string;
  readonly timeoutMs: number;
  /** Resolves when the server really answers; throws while it does not. */
  readonly probe: () => Promise<void>;
}

/**
 * Polls `probe` until it succeeds. Fails fast, quoting the end of the server's log, when the
 * process exits or the time is up.
 */
export async function waitUntilReady(watch: ReadinessWatch): Promise<void> {
  const deadline = Date.now() + watch.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!isRunning(watch.pid, watch.marker)) {
      throw new LocalServerError(
        `${watch.what} exited during start-up. Last lines of its log (${watch.logFile}):\n${tail(watch.logFile)}`,
      );
    }
    try {
      await watch.probe();
      return;
    } catch (error) {
      lastError = error;
      await sleep(250);
    }
  }
  throw new LocalServerError(
    `${watch.what} did not become ready within ${watch.timeoutMs / 1000} s ` +
      `(last probe error: ${String(lastError)}). Its log: ${watch.logFile}\n${tail(watch.logFile)}`,
    { cause: lastError },
  );
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log written)";
  }
}
