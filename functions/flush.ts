import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { depsFromEnvironment } from "../shared/runtime/environment.ts";
import { flushHandler } from "../shared/runtime/handlers.ts";

// Built once per container: the Kafka connection and clients are reused by every invocation.
const deps = depsFromEnvironment("flush");

/** Scheduled: emits due windows of partitions that went quiet (and idle ones, if enabled). */
export const handler = middy(flushHandler(deps))
  .use(injectLambdaContext(deps.logger))
  .use(logMetrics(deps.metrics));
