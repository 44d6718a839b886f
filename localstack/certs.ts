import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { run } from "./java.ts";
import { certsDir } from "./paths.ts";

/** The TLS material of the embedded broker's SASL_SSL listener. */
export interface BrokerCertificates {
  /** PKCS12 keystore with the broker's key and its chain (broker cert + CA). */
  readonly keystorePath: string;
  readonly keystorePassword: string;
  /** PEM of the CA that signed the broker certificate: what clients verify against. */
  readonly caPem: string;
  readonly caPemPath: string;
}

// A local-only secret guarding a throw-away keystore in a git-ignored folder.
const STORE_PASSWORD = "sparkless-local-keystore";
// Clients connect to 127.0.0.1 or localhost; both must match the certificate (hostname checks on).
const SUBJECT_ALT_NAMES = "SAN=dns:localhost,ip:127.0.0.1";
const VALIDITY_DAYS = "3650";

/**
 * Returns the broker's certificate and CA, generating them with `keytool` on first use: a
 * self-signed CA, and a broker certificate signed by it for localhost / 127.0.0.1 — like MSK,
 * whose brokers present certificates clients verify. Reused from the cache afterwards.
 */
export async function ensureBrokerCertificates(
  log: (line: string) => void,
): Promise<BrokerCertificates> {
  const keystorePath = join(certsDir, "broker.p12");
  const caPemPath = join(certsDir, "ca.pem");
  if (!existsSync(keystorePath) || !existsSync(caPemPath)) {
    log(`Generating a local CA and broker certificate in ${certsDir} (first start only)…`);
    await generate(`${certsDir}.partial`);
    rmSync(certsDir, { recursive: true, force: true });
    renameSync(`${certsDir}.partial`, certsDir);
  }
  return {
    keystorePath,
    keystorePassword: STORE_PASSWORD,
    caPem: readFileSync(caPemPath, "utf8"),
    caPemPath,
  };
}

async function generate(dir: string): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ca = join(dir, "ca.p12");
  const broker = join(dir, "broker.p12");
  const store = (path: string) => [
    "-keystore",
    path,
    "-storetype",
    "PKCS12",
    "-storepass",
    STORE_PASSWORD,
  ];
  const keytool = (args: string[], step: string) => run("keytool", args, `keytool: ${step}`);

  await keytool(
    [
      "-genkeypair",
      "-alias",
      "ca",
      "-keyalg",
      "RSA",
      "-keysize",
      "2048",
      "-dname",
      "CN=sparkless local CA",
      "-ext",
      "bc:c",
      "-validity",
      VALIDITY_DAYS,
      ...store(ca),
    ],
    "create the CA",
  );
  await keytool(
    ["-exportcert", "-rfc", "-alias", "ca", "-file", join(dir, "ca.pem"), ...store(ca)],
    "export the CA certificate",
  );
  await keytool(
    [
      "-genkeypair",
      "-alias",
      "broker",
      "-keyalg",
      "RSA",
      "-keysize",
      "2048",
      "-dname",
      "CN=localhost",
      "-validity",
      VALIDITY_DAYS,
      ...store(broker),
    ],
    "create the broker key",
  );
  await keytool(
    ["-certreq", "-alias", "broker", "-file", join(dir, "broker.csr"), ...store(broker)],
    "make the broker's signing request",
  );
  await keytool(
    [
      "-gencert",
      "-alias",
      "ca",
      "-infile",
      join(dir, "broker.csr"),
      "-outfile",
      join(dir, "broker.crt"),
      "-rfc",
      "-validity",
      VALIDITY_DAYS,
      "-ext",
      SUBJECT_ALT_NAMES,
      "-ext",
      "KU=digitalSignature,keyEncipherment",
      "-ext",
      "EKU=serverAuth",
      ...store(ca),
    ],
    "sign the broker certificate",
  );
  await keytool(
    ["-importcert", "-noprompt", "-alias", "ca", "-file", join(dir, "ca.pem"), ...store(broker)],
    "import the CA into the broker keystore",
  );
  await keytool(
    [
      "-importcert",
      "-noprompt",
      "-alias",
      "broker",
      "-file",
      join(dir, "broker.crt"),
      ...store(broker),
    ],
    "import the signed broker certificate",
  );
}
