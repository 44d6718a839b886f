import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LOCAL_AWS_ENV } from "../../../localstack/servers.ts";
import { uniqueName, until } from "../helpers.ts";
import { runTool, startCli, toolEnv } from "./run-tool.ts";

// `npm start -- --no-producer` as a user runs it against servers of their own (the KAFKA_* and
// AWS_* variables README § Environment lists for external servers: it starts none), with
// `--plain` status blocks (stdout is not a terminal). Issue 17: without the demo producer the live view showed an event clock taken from
// the wall clock, "trailing" the watermark by 907,976 minutes.
describe("npm start -- --no-producer", () => {
  it("shows no event clock until an event arrives, then the newest event's time", async () => {
    // Prepare
    const { child, stdout, stderr, exited } = startCli(
      join("localstack", "start.ts"),
      ["--no-producer", "--plain", "--table", uniqueName("start")],
      { ...toolEnv(), ...LOCAL_AWS_ENV },
    );
    const clockLines = () =>
      stdout()
        .split("\n")
        .filter((l) => l.startsWith("watermark"));
    try {
      // Act: wait for the first status block, then send one event.
      await until(
        () => clockLines().length > 0 || child.exitCode !== null,
        "a status block",
        90_000,
      );
      expect(child.exitCode, `${stdout()}\n${stderr()}`).toBeNull();
      const beforeAnyEvent = clockLines()[0];
      const sent = await runTool("produce", ["transactions"], {
        stdin: `${JSON.stringify({ user: "alice", amount: 12.5, event_time: "2025-01-01T12:34:56Z" })}\n`,
      });
      expect(sent.code, sent.stderr).toBe(0);
      await until(
        () => clockLines().some((l) => l.includes("event clock 12:34:56")),
        "the event's time in a status block",
        60_000,
      );

      // Assess: no clock, no trail before the event; afterwards the event's own time.
      expect(beforeAnyEvent).toBe("watermark — · event clock — (newest event) · trails by —");
      expect(clockLines().at(-1)).toContain("event clock 12:34:56 (newest event)");
    } finally {
      child.kill("SIGINT");
    }
    // Ctrl-C stops what it started (nothing here: the servers are the test's) and exits 0.
    expect(await exited).toBe(0);
    expect(stdout()).toContain("Stopped.");
  }, 180_000);
});
