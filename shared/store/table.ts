import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ResourceInUseException,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";

/**
 * The one DynamoDB table of a sparkless deployment. Keys are strings built by `keys.ts`; the
 * CDK construct (`infra/constructs/state-table.ts`) and local set-up both read these names, so the
 * two never drift.
 */
export const STATE_TABLE = {
  partitionKey: "pk",
  sortKey: "sk",
  /** Sparse index of windows waiting to close: only open final-mode windows carry `due`. */
  dueIndex: "due-index",
  dueKey: "due",
  /** Epoch seconds after which DynamoDB's TTL deletes an emitted window. */
  ttlAttribute: "expiresAt",
} as const;

/** `CreateTable` input for the state table: on-demand, with the due index (keys only). */
export function stateTableDefinition(tableName: string): CreateTableCommandInput {
  const { partitionKey, sortKey, dueIndex, dueKey } = STATE_TABLE;
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: "S" },
      { AttributeName: sortKey, AttributeType: "S" },
      { AttributeName: dueKey, AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: partitionKey, KeyType: "HASH" },
      { AttributeName: sortKey, KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: dueIndex,
        KeySchema: [{ AttributeName: dueKey, KeyType: "HASH" }],
        Projection: { ProjectionType: "KEYS_ONLY" },
      },
    ],
  };
}

/** Creates the state table if it does not exist (local runs and tests; AWS uses the CDK stack). */
export async function ensureStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(stateTableDefinition(tableName)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: tableName });
}
