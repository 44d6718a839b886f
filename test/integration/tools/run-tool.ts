import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { kafkaConnection } from "../helpers.ts";

const ROOT = join(import.meta.dirname, "..", "..", "..");

export interface ToolRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * The environment a user would set to point the tools at the test servers: KAFKA_* from the
 * global setup's connection (its CA written to a file, as KAFKA_SSL_CA wants a path) and the
 * DynamoDB Local endpoint. Nothing of the caller's KAFKA_ / AWS_ settings leaks in.
 */
export function toolEnv(): NodeJS.ProcessEnv {
  const { brokers, tls, sasl } = kafkaConnection();
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("KAFKA_") && !k.startsWith("AWS_")),
  );
  env.KAFKA_BROKERS = brokers.join(",");
  if (tls?.caPem) {
    const caFile = join(mkdtempSync(join(tmpdir(), "sparkless-tools-")), "ca.pem");
    writeFileSync(caFile, tls.caPem);
    env.KAFKA_SSL_CA = caFile;
  } else if (tls) env.KAFKA_SSL = "true";
  if (sasl) {
    env.KAFKA_SASL_MECHANISM = sasl.mechanism;
    env.KAFKA_SASL_USERNAME = sasl.username;
    env.KAFKA_SASL_PASSWORD = sasl.password;
  }
  env.AWS_ENDPOINT_URL_DYNAMODB = inject("servers").dynamoDbEndpoint;
  return env;
}

/** A CLI of ours running as a child process (tsx on this Node), its output collected as it comes. */
export interface RunningCli {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code once it exits. */
  readonly exited: Promise<number | null>;
}

/** Starts `<script>` (a path under the repository) as `npm run`/`npm start` would run it. */
export function startCli(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = toolEnv(),
): RunningCli {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, script), ...args], {
    cwd: ROOT,
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/**
 * Runs `localstack/tools/<tool>.ts` as `npm run <tool>` does (tsx on this Node), with `stdin`
 * piped in, and resolves when it exits by itself; kills it and fails after `timeoutMs`.
 */
export async function runTool(
  tool: string,
  args: readonly string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ToolRun> {
  const startedAt = Date.now();
  const cli = startCli(join("localstack", "tools", `${tool}.ts`), args, options.env ?? toolEnv());
  cli.child.stdin?.end(options.stdin ?? "");
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cli.child.kill("SIGKILL");
      reject(
        new Error(
          `npm run ${tool} -- ${args.join(" ")} did not exit within ${timeoutMs} ms\nstdout: ${cli.stdout()}\nstderr: ${cli.stderr()}`,
        ),
      );
    }, timeoutMs);
  });
  try {
    const code = await Promise.race([cli.exited, timedOut]);
    return { code, stdout: cli.stdout(), stderr: cli.stderr(), ms: Date.now() - startedAt };
  } finally {
    clearTimeout(timer);
  }
}
