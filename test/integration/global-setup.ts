import type { TestProject } from "vitest/node";
import {
  killServersNow,
  reapOrphans,
  type Servers,
  startServers,
  stopServers,
} from "../../localstack/servers.ts";

/** What integration tests get through `inject("servers")`. */
export type TestServers = Pick<Servers, "kafka" | "dynamoDbEndpoint">;

declare module "vitest" {
  export interface ProvidedContext {
    servers: TestServers;
  }
}

// One profile per run, so two runs in one checkout never touch each other's servers.
const PROFILE = `test-${process.pid}`;

/**
 * Starts the real Kafka (SASL_SSL + SCRAM-SHA-512) and DynamoDB Local once for the whole run, or
 * checks the external ones named by the environment, and stops what it started at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // If the run is killed, do not leave JVMs behind.
  process.once("exit", () => killServersNow(PROFILE));
  await reapOrphans("test-");
  const startedAt = Date.now();
  const servers = await startServers({ profile: PROFILE });
  console.log(`Test servers ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  project.provide("servers", { kafka: servers.kafka, dynamoDbEndpoint: servers.dynamoDbEndpoint });
  return () => stopServers(PROFILE);
}
