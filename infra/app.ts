import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { readConfig } from "./config.ts";
import { SparklessStack, stackNameFor } from "./stacks/sparkless-stack.ts";

// `npx cdk synth` runs this offline: no credentials, no Docker (NodejsFunction bundles with the
// locally installed esbuild), no lookups.
const app = new App();
// One stack per pipeline (`Sparkless-<pipeline>`): deploying a second pipeline adds a stack
// instead of replacing the first.
const { pipeline } = readConfig(app.node);
new SparklessStack(app, stackNameFor(pipeline), {
  description: `sparkless ${pipeline}: Spark-style Kafka stream processing on MSK, Lambda and DynamoDB`,
});
// cdk-nag's AwsSolutions pack runs on every synth; an unacknowledged finding fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
