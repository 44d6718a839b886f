import { App } from "aws-cdk-lib";
import { SparklessStack } from "./stacks/sparkless-stack.ts";

// `npx cdk synth` runs this offline: no credentials, no Docker (NodejsFunction bundles with the
// locally installed esbuild), no lookups.
const app = new App();
new SparklessStack(app, "Sparkless", {
  description: "sparkless: Spark-style Kafka stream processing on MSK, Lambda and DynamoDB",
});
app.synth();
