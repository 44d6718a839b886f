import { readdirSync, readFileSync } from "node:fs";

/** A field of `/proc/<pid>/status` in MB (`VmHWM`: peak resident set), or undefined if gone. */
export function statusMb(pid: number, field: "VmHWM" | "VmRSS"): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** The direct children of a process (e.g. the Python driver under Spark's JVM). */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // `pid (comm) state ppid …`: comm may hold spaces, so split after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return children;
}

/**
 * Samples the resident memory of named processes every 200 ms and keeps each one's peak: for
 * long-lived servers (Kafka, DynamoDB Local), whose VmHWM also covers what ran before.
 */
export class RssSampler {
  private readonly peaks = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: () => Record<string, number | undefined>) {
    this.timer = setInterval(() => this.sample(), 200);
    this.sample();
  }

  sample(): void {
    for (const [name, pid] of Object.entries(this.pids())) {
      const mb = pid === undefined ? undefined : statusMb(pid, "VmRSS");
      if (mb !== undefined) this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, mb));
    }
  }

  /** Peak RSS per process in MB, rounded. */
  stop(): Record<string, number> {
    clearInterval(this.timer);
    this.sample();
    return Object.fromEntries([...this.peaks].map(([name, mb]) => [name, Math.round(mb)]));
  }
}

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`: 100 on Linux everywhere). */
const TICKS_PER_SEC = 100;

/** CPU time (user + system, s) a process has used so far, or undefined if gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `pid (comm) `.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
  } catch {
    return undefined;
  }
}

/** CPU time (s) the whole machine spent busy (not idle, not waiting on I/O) so far. */
export function machineBusySeconds(): number {
  const [, ...ticks] = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) /
    TICKS_PER_SEC
  );
}

/** CPU used by named processes and by the whole machine between `new` and `stop()`. */
export class CpuMeter {
  private readonly startMs = Date.now();
  private readonly machineStart = machineBusySeconds();
  private readonly start = new Map<string, number>();

  constructor(private readonly pids: Record<string, number | undefined>) {
    for (const [name, pid] of Object.entries(pids)) {
      const s = pid === undefined ? undefined : cpuSeconds(pid);
      if (s !== undefined) this.start.set(name, s);
    }
  }

  /**
   * Cores busy on average over the interval, per process and for the machine (other helpers'
   * work, the bench itself and the servers' idle threads make up the difference).
   */
  stop(): { wallMs: number; coresBusy: Record<string, number>; machineCoresBusy: number } {
    const wallMs = Date.now() - this.startMs;
    const coresBusy: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const before = this.start.get(name);
      const after = pid === undefined ? undefined : cpuSeconds(pid);
      if (before !== undefined && after !== undefined)
        coresBusy[name] = round2((after - before) / (wallMs / 1000));
    }
    const machine = (machineBusySeconds() - this.machineStart) / (wallMs / 1000);
    return { wallMs, coresBusy, machineCoresBusy: round2(machine) };
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;
