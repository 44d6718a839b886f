import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { PortInUseError } from "../../localstack/errors.ts";
import { startServers, stopServers } from "../../localstack/servers.ts";

const PROFILE = "test-ports";

function occupyPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (typeof address !== "object" || !address) throw new Error("no address");
      resolve({ server, port: address.port });
    });
  });
}

describe("starting the local servers", () => {
  let occupied: Server | undefined;
  afterEach(async () => {
    occupied?.close();
    await stopServers(PROFILE);
  });

  it.each([
    ["SPARKLESS_KAFKA_SASL_PORT", "Kafka SASL_SSL listener"],
    ["SPARKLESS_DYNAMODB_PORT", "DynamoDB Local"],
  ])("fails with a message naming the port when %s is taken", async (envVar, purpose) => {
    // Prepare
    const { server, port } = await occupyPort();
    occupied = server;

    // Act
    const starting = startServers({
      profile: PROFILE,
      env: { [envVar]: String(port) },
      log: () => {},
    });

    // Assess
    await expect(starting).rejects.toBeInstanceOf(PortInUseError);
    await expect(starting).rejects.toThrow(`Port ${port} (${purpose}) is already in use`);
    await expect(starting).rejects.toThrow(envVar);
  });
});
