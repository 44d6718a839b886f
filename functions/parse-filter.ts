import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { depsFromEnvironment } from "../shared/runtime/environment.ts";
import { parseFilterHandler } from "../shared/runtime/handlers.ts";

// Built once per container: the Kafka connection and clients are reused by every invocation.
const deps = depsFromEnvironment("parse-filter");

/** Event-source mapping on each source topic: parse, validate, filter, repartition by group key. */
export const handler = middy(parseFilterHandler(deps))
  .use(injectLambdaContext(deps.logger))
  .use(logMetrics(deps.metrics));
