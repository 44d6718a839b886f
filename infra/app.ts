import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { SparklessStack } from "./stacks/sparkless-stack.ts";

// `npx cdk synth` runs this offline: no credentials, no Docker (NodejsFunction bundles with the
// locally installed esbuild), no lookups.
const app = new App();
new SparklessStack(app, "Sparkless", {
  description: "sparkless: Spark-style Kafka stream processing on MSK, Lambda and DynamoDB",
});
// cdk-nag's AwsSolutions pack runs on every synth; an unacknowledged finding fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
