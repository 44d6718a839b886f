import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { TestProject } from "vitest/node";
import { ensurePySpark } from "../bench/spark/install.ts";
import { AGGREGATIONS, parityRecords, SCHEMAS } from "./corpus.ts";

/** What Spark produced for the corpus (see parity.py for the value encodings). */
export interface SparkParity {
  readonly spark: string;
  /** Per record, per schema name, per field: null, or a value as parity.py encodes it. */
  readonly rows: ReadonlyArray<Record<string, Record<string, string | number | boolean | null>>>;
  /** Per aggregation name: Spark's to_json values, sorted. */
  readonly aggregations: Readonly<Record<string, readonly string[]>>;
  /** Per aggregation name: each of those results' group key cast to a string, in the same order. */
  readonly keys: Readonly<Record<string, readonly string[]>>;
  /** Epoch ms when Spark ran (timestamps written as a time alone take that day). */
  readonly ranAtMs: number;
}

declare module "vitest" {
  export interface ProvidedContext {
    sparkParity: SparkParity;
  }
}

const log = (line: string) => console.log(`[spark] ${line}`);

/**
 * Runs Spark once for the whole parity corpus: installs PySpark on the first run (as the bench
 * does), then one local JVM parses every record under every schema with `from_json` and writes
 * the aggregations with `to_json`. The tests compare our parser and encoder with what it wrote.
 */
export default async function setup(project: TestProject): Promise<void> {
  const python = await ensurePySpark(log);
  const dir = mkdtempSync(join(tmpdir(), "sparkless-parity-"));
  try {
    const input = join(dir, "input.json");
    const output = join(dir, "output.json");
    writeFileSync(
      input,
      JSON.stringify({
        records: parityRecords().map((r) => ({ value: r.value.toString("base64") })),
        schemas: SCHEMAS,
        aggregations: AGGREGATIONS,
      }),
    );
    const startedMs = Date.now();
    log(`running PySpark's from_json and to_json over the parity corpus…`);
    await run(python, [join(import.meta.dirname, "parity.py"), input, output], {
      ...process.env,
      PYSPARK_PYTHON: python,
      PYSPARK_DRIVER_PYTHON: python,
      SPARK_LOCAL_IP: "127.0.0.1", // Spark binds to the host's address otherwise
    });
    log(`Spark done in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
    const result = JSON.parse(readFileSync(output, "utf8")) as Omit<SparkParity, "ranAtMs">;
    project.provide("sparkParity", { ...result, ranAtMs: startedMs });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the script; Spark's own warnings are kept for the error, not printed. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        tail.push(line);
        if (tail.length > 40) tail.shift();
      });
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`parity.py exited with ${code ?? signal}:\n${tail.join("\n")}`));
    });
  });
}
