import type { WindowStore } from "../../../shared/store/window-store.ts";

// The scheduler and store gate both model checks share (the window protocol's, tumbling and
// session): actors interleaved at every store call, crashed before or after it.

export class Crash extends Error {}

/** A small seeded generator (mulberry32), so a failing schedule can be replayed by its seed. */
export function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), chance: (p: number) => next() < p };
}
export type Random = ReturnType<typeof random>;

export interface ModelEvent {
  readonly index: number;
  readonly key: string;
  readonly eventTimeMs: number;
  readonly source: string;
  readonly sourceOffset: number;
}

/** A source's progress marker, as the parse step sends it to every repartition partition. */
export interface Marker {
  readonly marker: true;
  readonly source: string;
  readonly maxEventTimeMs: number;
  readonly sourceOffset: number;
  readonly behind: boolean;
}

/**
 * Interleaves actors at their store calls and produces: each call waits for the scheduler to pick
 * it, and the scheduler may crash the actor before the call or after it took effect.
 */
export class Scheduler {
  step = 0;
  readonly crashesAt = new Map<string, number>();
  private readonly pending: Array<{ label: string; go: () => void; crash: () => void }> = [];
  private running = 0;
  private onIdle: (() => void) | undefined;
  constructor(
    private readonly rng: Random,
    public crashChance: number,
  ) {}

  gate(label: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ label, go: resolve, crash: () => reject(new Crash(label)) });
      this.running--;
      this.idleCheck();
    });
  }

  /** Runs actors to completion, one gate at a time in random order. */
  async run(actors: ReadonlyArray<() => Promise<void>>): Promise<void> {
    for (const actor of actors) {
      this.running++;
      void actor().finally(() => {
        this.running--;
        this.idleCheck();
      });
    }
    for (;;) {
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        this.idleCheck();
      });
      const [next] = this.pending.splice(this.rng.int(this.pending.length), 1);
      if (!next) return; // nobody waits and nobody runs: all finished
      this.step++;
      this.running++;
      if (this.rng.chance(this.crashChance)) {
        this.crashesAt.set(next.label, (this.crashesAt.get(next.label) ?? 0) + 1);
        next.crash();
      } else next.go();
    }
  }

  /** Wakes the scheduler once every actor waits at a gate or has finished. */
  private idleCheck(): void {
    if (this.running === 0 && this.onIdle) {
      const wake = this.onIdle;
      this.onIdle = undefined;
      wake();
    }
  }
}

/** The store as one actor sees it: every call gated before and after. */
export function gatedStore(
  store: WindowStore,
  scheduler: Scheduler,
  onCall: (name: string, args: unknown[], result: unknown) => void,
): WindowStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        await scheduler.gate(`${String(property)}:before`);
        const result = await value.apply(target, args);
        onCall(String(property), args, result);
        await scheduler.gate(`${String(property)}:after`);
        return result;
      };
    },
  });
}
