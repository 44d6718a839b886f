import { describe, expect, inject, it } from "vitest";
import { kafkaConnection } from "../helpers.ts";
import { reportHardening } from "../report.ts";
import { runSigkillRounds } from "./sigkill-rounds.ts";

// The pipeline's process killed with SIGKILL at random moments while it works, round after
// round, then left to finish: every result is there and right; a duplicate may appear but only
// byte-identical. `npm run soak -- --sigkill 100` runs the same with more rounds.
const ROUNDS = 8;

describe("the pipeline process killed with SIGKILL", () => {
  it(`completes every result correctly after ${ROUNDS} kills`, { timeout: 300_000 }, async () => {
    // Act
    const outcome = await runSigkillRounds({
      rounds: ROUNDS,
      kafka: kafkaConnection(),
      dynamoDbEndpoint: inject("servers").dynamoDbEndpoint,
      eventsPerRound: 200,
      maxKillDelayMs: 2_000,
      finishTimeoutMs: 180_000,
    });

    // Assess (a result id seen twice with different bytes already failed the run)
    reportHardening(outcome.row);
    expect(outcome.actual).toEqual(outcome.expected);
    expect(outcome.crashed).toBe(0);
    expect(outcome.killedWhileWorking).toBeGreaterThanOrEqual(ROUNDS - 1);
  });
});
