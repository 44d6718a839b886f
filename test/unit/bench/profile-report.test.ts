import { describe, expect, it } from "vitest";
import { profileRows } from "../../../test/bench/e2e/profile-report.ts";

// The bench's per-stage profile of our backlog run, as the summary prints it.
describe("profileRows", () => {
  it("splits an invocation into produce, DynamoDB reads, writes and the CPU left over", () => {
    // Prepare: a window mapping whose invocations spent 1,000 ms, 4 s of wall time.
    const snapshot = {
      wallMs: 4_000,
      stages: {
        "window.invoke": { ms: 1_000, calls: 2 },
        "window.produce": { ms: 100, calls: 2 },
        "window.dynamodb.readPartition": { ms: 50, calls: 2 },
        "window.dynamodb.getShards": { ms: 150, calls: 3 },
        "window.dynamodb.putShard": { ms: 500, calls: 20 },
        "window.dynamodb.fits": { ms: 10, calls: 20 }, // no call: part of the CPU
        "window.commit": { ms: 40, calls: 2 },
        "flush.dynamodb.readProgress": { ms: 30, calls: 1 },
      },
      counters: {},
    };

    // Act
    const rows = new Map(profileRows(snapshot).map((r) => [r.stage, r]));

    // Assess
    expect(rows.get("window:   DynamoDB reads")).toMatchObject({ ms: 200, calls: 5 });
    expect(rows.get("window:   DynamoDB writes")).toMatchObject({ ms: 500, calls: 20 });
    expect(rows.get("window:   decode, parse, plan (CPU)")).toMatchObject({ ms: 200, calls: 2 });
    expect(rows.get("window: invocations")?.shareOfWall).toBe(0.25);
    expect(rows.get("window: commit offsets")).toMatchObject({ ms: 40, calls: 2 });
    expect(rows.get("flush:   DynamoDB reads")).toMatchObject({ ms: 30, calls: 1 });
  });
});
