import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { depsFromEnvironment } from "../shared/runtime/environment.ts";
import { windowHandler } from "../shared/runtime/handlers.ts";

// Built once per container: the Kafka connection and clients are reused by every invocation.
const deps = depsFromEnvironment("window");

/** Event-source mapping on the repartition topic: window state, watermark, late events, results. */
export const handler = middy(windowHandler(deps))
  .use(injectLambdaContext(deps.logger))
  .use(logMetrics(deps.metrics));
