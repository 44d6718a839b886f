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
import { dirname, join } from "node:path";
import { run } from "./java.ts";
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
  await run(
    "mvn",
    [
      "--batch-mode",
      "--quiet",
      "-f",
      pom,
      "dependency:copy-dependencies",
      `-DoutputDirectory=${staging}`,
      "-DincludeScope=runtime",
    ],
    `Resolving the ${name} jars with Maven`,
  );
  writeFileSync(join(staging, STAMP), pomHash);
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
  log(`  ${readdirSync(target).length - 1} files cached.`);
  return target;
}
