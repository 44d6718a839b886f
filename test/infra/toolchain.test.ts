import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { describe, expect, it } from "vitest";

describe("CDK synthesis offline", () => {
  it("bundles a NodejsFunction for nodejs22.x with the local esbuild (no Docker)", () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, "Bundling");

    // WHEN
    new NodejsFunction(stack, "Hello", {
      entry: join(import.meta.dirname, "fixtures", "hello.ts"),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      bundling: { forceDockerBundling: false, sourceMap: true },
    });
    const assembly = app.synth();

    // THEN
    Template.fromStack(stack).hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
    });
    const assetDirs = readdirSync(assembly.directory).filter((d) => d.startsWith("asset."));
    expect(assetDirs).toHaveLength(1);
    const bundle = join(assembly.directory, assetDirs[0] as string, "index.js");
    expect(existsSync(bundle)).toBe(true);
    expect(existsSync(`${bundle}.map`)).toBe(true);
  });
});
