import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeMskRecord, type MskEvent } from "../../../shared/msk/event.ts";
import { userSpending } from "../../../shared/pipelines/user-spending.ts";
import { parseFilterHandler } from "../../../shared/runtime/handlers.ts";
import { MemoryWindowStore } from "../../../shared/store/memory-window-store.ts";

describe("what the functions log", () => {
  afterEach(() => vi.restoreAllMocks());

  it("reports dead letters by count and topic, never record values or credentials", async () => {
    // Prepare: capture everything written to stdout and stderr.
    const written: string[] = [];
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
    }
    process.env.KAFKA_SASL_PASSWORD = "hunter2-scram-password";
    const handler = parseFilterHandler({
      pipeline: userSpending,
      store: new MemoryWindowStore(),
      send: async () => {},
      nowMs: () => 0,
      logger: new Logger({ serviceName: "test", logLevel: "DEBUG" }),
      metrics: new Metrics({ namespace: "test" }),
    });
    const secretValue = '{"user": "card-4111111111111111", "amount": "not a number"}';
    const event: MskEvent = {
      eventSource: "SelfManagedKafka",
      bootstrapServers: "b:9096",
      records: {
        "transactions-0": [
          encodeMskRecord({
            topic: "transactions",
            partition: 0,
            offset: 1,
            timestamp: 1,
            key: null,
            value: Buffer.from(secretValue),
          }),
        ],
      },
    };

    // Act
    const counts = await handler(event);

    // Assess
    expect(counts.invalid).toBe(1);
    const log = written.join("");
    expect(log).toContain("records sent to the dead-letter topic");
    expect(log).not.toContain("4111111111111111");
    expect(log).not.toContain("hunter2-scram-password");
    delete process.env.KAFKA_SASL_PASSWORD;
  });
});
