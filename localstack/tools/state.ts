import { parseArgs } from "node:util";
import { ListTablesCommand, ResourceNotFoundException } from "@aws-sdk/client-dynamodb";
import { createDocumentClient, createDynamoDbClient } from "../../shared/dynamodb/client.ts";
import { pipelineNamed, pipelines } from "../../shared/pipelines/index.ts";
import { DynamoDbWindowStore } from "../../shared/store/dynamodb-window-store.ts";
import { readState } from "../servers.ts";
import { ToolUsageError } from "./errors.ts";
import { readStateReport, renderStateReport } from "./state-report.ts";

const LOCAL_TABLE = "sparkless-state";

const USAGE = `Usage: npm run state -- <pipeline> [options]

Shows a pipeline's window state as the window function sees it: the watermark, each
repartition partition's newest event, last batch and open windows, which windows are due (the
watermark passed their end), and the current aggregates of one key or of the busiest keys.
Read-only (DynamoDB reads by key, no scan).

Options:
  --key <k>        the windows of this group key (e.g. --key alice)
  --top <n>        without --key: the n keys with the largest first aggregation (default 10)
  --json           the report as JSON
  --table <name>   the state table (default locally: ${LOCAL_TABLE}; with --aws: found by --stack)
  --aws            read the deployed table in AWS (credentials and region as for the AWS CLI)
  --stack <name>   with --aws and no --table: the stack whose table to read (default
                   Sparkless-<pipeline>, as 'npx cdk deploy' names it)
  -h, --help       this text

The deployed table's name is also the stack's output StateTable:
  aws cloudformation describe-stacks --stack-name Sparkless-<pipeline> \\
    --query "Stacks[0].Outputs[?OutputKey=='StateTable'].OutputValue" --output text

Which DynamoDB: with --aws, AWS; else AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL if set;
else the local servers of 'npm start' / 'npm run infra:up'.
Pipelines: ${[...pipelines.keys()].join(", ")}`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      key: { type: "string" },
      top: { type: "string", default: "10" },
      json: { type: "boolean", default: false },
      table: { type: "string" },
      aws: { type: "boolean", default: false },
      stack: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [name] = positionals;
  if (values.help || !name) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const pipeline = pipelineNamed(name);
  const top = Number(values.top);
  if (!Number.isInteger(top) || top < 1) {
    throw new ToolUsageError(`--top must be a positive integer, got '${values.top}'`);
  }
  // The stack of a pipeline, as infra/stacks/sparkless-stack.ts (stackNameFor) names it.
  const stack = values.stack ?? `Sparkless-${pipeline.name}`;
  const { endpoint, tableName } = await where({ ...values, stack });
  const store = new DynamoDbWindowStore(createDocumentClient(endpoint), tableName);
  const query = { top, ...(values.key === undefined ? {} : { groupKey: values.key }) };
  const report = await readStateReport(store, pipeline, query).catch((error: unknown) => {
    if (error instanceof ResourceNotFoundException) {
      throw new ToolUsageError(
        `No table '${tableName}' in ${endpoint ?? "AWS"}: name it with --table (the pipeline must have run there)`,
        { cause: error },
      );
    }
    throw error;
  });
  console.log(
    values.json
      ? // NaN and the infinities as Spark's to_json writes them ("NaN"), not as JSON's null.
        JSON.stringify({ table: tableName, ...report }, nonFiniteAsText, 2)
      : `table ${tableName} (${endpoint ?? "AWS"})\n${renderStateReport(report, pipeline, query, Date.now())}`,
  );
  return 0;
}

function nonFiniteAsText(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
}

/** The DynamoDB endpoint (undefined: AWS) and the table to read. */
async function where(options: {
  readonly aws: boolean;
  readonly table?: string | undefined;
  readonly stack: string;
}): Promise<{ endpoint: string | undefined; tableName: string }> {
  if (options.aws) {
    return { endpoint: undefined, tableName: options.table ?? (await stackTable(options.stack)) };
  }
  const endpoint =
    process.env.AWS_ENDPOINT_URL_DYNAMODB ||
    process.env.AWS_ENDPOINT_URL ||
    readState("dev")?.dynamodb?.endpoint;
  if (!endpoint) {
    throw new ToolUsageError(
      "No local DynamoDB: start it ('npm start' or 'npm run infra:up'), set AWS_ENDPOINT_URL_DYNAMODB, or add --aws for the deployed table.",
    );
  }
  return { endpoint, tableName: options.table ?? LOCAL_TABLE };
}

/**
 * The deployed state table: CloudFormation names it `<stack>-StateTable<hash>-<suffix>` (the
 * construct `State/Table` of the stack, no fixed name), so it is found by that prefix.
 */
async function stackTable(stack: string): Promise<string> {
  const client = createDynamoDbClient();
  const prefix = `${stack}-StateTable`.toLowerCase();
  const found: string[] = [];
  let start: string | undefined;
  do {
    const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    found.push(...(page.TableNames ?? []).filter((t) => t.toLowerCase().startsWith(prefix)));
    start = page.LastEvaluatedTableName;
  } while (start);
  if (found.length === 1) return found[0] as string;
  throw new ToolUsageError(
    found.length === 0
      ? `No table of stack '${stack}' in this account and region (${process.env.AWS_REGION ?? "region from your AWS config"}): name it with --table, or the stack with --stack`
      : `Several tables of stack '${stack}': ${found.join(", ")}; choose one with --table`,
  );
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof ToolUsageError ? 2 : 1);
  },
);
