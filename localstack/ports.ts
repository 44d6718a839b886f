import { createServer, type Server } from "node:net";
import { PortInUseError } from "./errors.ts";

/** A port to bind: a fixed number, or 0 for any free one. */
export interface PortRequest {
  readonly port: number;
  /** What the port is for, named in errors ("Kafka SASL_SSL listener"). */
  readonly purpose: string;
  /** The environment variable that chooses it, named in errors. */
  readonly envVar: string;
}

/**
 * Resolves port requests to ports free on loopback right now: 0 becomes a free port chosen by the
 * OS, a taken fixed port fails with {@link PortInUseError} naming it. All ports are held until
 * every one is resolved, so two requests for "any" never get the same port.
 */
export async function claimPorts(requests: readonly PortRequest[]): Promise<number[]> {
  const held: Server[] = [];
  try {
    const ports: number[] = [];
    for (const request of requests) {
      const server = await tryListen(request.port);
      if (!server) throw new PortInUseError(request.port, request.purpose, request.envVar);
      held.push(server);
      const address = server.address();
      ports.push(typeof address === "object" && address ? address.port : request.port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((server) => new Promise((done) => server.close(done))));
  }
}

function tryListen(port: number): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE" || error.code === "EACCES") resolve(undefined);
      else reject(error);
    });
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => resolve(server));
  });
}

/** Reads a port setting from the environment; unset means `fallback`. */
export function portFromEnv(env: NodeJS.ProcessEnv, envVar: string, fallback: number): number {
  const raw = env[envVar]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `${envVar} must be a port number 0-65535 (0 = any free port), got '${raw}'`,
    );
  }
  return port;
}
