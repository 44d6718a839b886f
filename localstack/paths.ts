import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file lives in `<root>/localstack/`). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Git-ignored cache: downloaded jars and the generated certificates survive between runs. */
export const cacheDir = join(repoRoot, ".cache", "localstack");
export const jarsDir = (name: string): string => join(cacheDir, "jars", name);
export const certsDir = join(cacheDir, "certs");
export const pomPath = (name: string): string =>
  join(repoRoot, "localstack", "maven", `${name}.pom.xml`);

/**
 * Per-use state (logs, Kafka's data, pids): `dev` for `npm start` / `npm run infra:up`, `test`
 * for the test run, so tests never disturb servers a developer left running.
 */
export const stateDir = (profile: string): string => join(cacheDir, profile);
