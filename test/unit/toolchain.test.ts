import { describe, expect, it } from "vitest";

// Lambda runs nodejs22.x, and middy 7 / vitest 5 need Node >= 22. The project brings its own
// Node (the `node` devDependency puts it first on every npm script's PATH); this proves the tests
// really run on it and not on whatever Node the machine has.
describe("toolchain", () => {
  it("runs the tests on Node 22, the Lambda runtime's major version", () => {
    const major = Number(process.versions.node.split(".")[0]);
    expect(major).toBe(22);
  });
});
