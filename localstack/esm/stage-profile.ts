import { AsyncLocalStorage } from "node:async_hooks";

/** Cumulative time and calls of one stage. */
export interface StageTotals {
  ms: number;
  calls: number;
}

/**
 * Where the local pipeline's time goes, per stage (`<mapping>.<stage>`): the bench's profile of a
 * backlog run. Only built when the bench asks for it (`SPARKLESS_PROFILE`), so the runner and the
 * functions pay nothing otherwise (every hook is `profile?.…`). Stages of concurrent invocations
 * add up: a stage's total may exceed the wall time.
 */
export class StageProfile {
  private readonly stages = new Map<string, StageTotals>();
  private readonly counters = new Map<string, number>();
  /** The mapping whose invocation is running, so a shared producer or store is charged to it. */
  private readonly current = new AsyncLocalStorage<string>();
  readonly startedMs = Date.now();

  add(stage: string, ms: number, calls = 1): void {
    const totals = this.stages.get(stage);
    if (totals) {
      totals.ms += ms;
      totals.calls += calls;
    } else this.stages.set(stage, { ms, calls });
  }

  count(counter: string, by = 1): void {
    this.counters.set(counter, (this.counters.get(counter) ?? 0) + by);
  }

  /** Runs `work` as part of `mapping`'s invocation (stages inside it are charged to it). */
  within<T>(mapping: string, work: () => Promise<T>): Promise<T> {
    return this.current.run(mapping, work);
  }

  /** Times `work` as `<current mapping>.<stage>` (or `<outside>.<stage>`: the flush timer). */
  async time<T>(stage: string, work: () => Promise<T>): Promise<T> {
    const name = `${this.current.getStore() ?? "flush"}.${stage}`;
    const startMs = performance.now();
    try {
      return await work();
    } finally {
      this.add(name, performance.now() - startMs);
    }
  }

  /** Every method of `target` timed as `<prefix>.<method>` (a store, a client). */
  wrap<T extends object>(target: T, prefix: string): T {
    return new Proxy(target, {
      get: (object, property, receiver) => {
        const value = Reflect.get(object, property, receiver);
        if (typeof value !== "function" || typeof property !== "string") return value;
        return (...args: unknown[]) =>
          this.time(`${prefix}.${property}`, async () => value.apply(object, args));
      },
    });
  }

  snapshot(): {
    wallMs: number;
    stages: Record<string, StageTotals>;
    counters: Record<string, number>;
  } {
    return {
      wallMs: Date.now() - this.startedMs,
      stages: Object.fromEntries(
        [...this.stages].map(([k, v]) => [k, { ms: Math.round(v.ms), calls: v.calls }]),
      ),
      counters: Object.fromEntries(this.counters),
    };
  }
}
