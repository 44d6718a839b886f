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
  /** Epoch seconds after which DynamoDB's TTL deletes a window shard that can no longer change. */
  ttlAttribute: "expiresAt",
} as const;

/** `CreateTable` input for the state table: on-demand, keys only (see `keys.ts`). */
export function stateTableDefinition(tableName: string): CreateTableCommandInput {
  const { partitionKey, sortKey } = STATE_TABLE;
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: "S" },
      { AttributeName: sortKey, AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: partitionKey, KeyType: "HASH" },
      { AttributeName: sortKey, KeyType: "RANGE" },
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
