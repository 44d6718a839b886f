import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteTableCommand,
} from "@aws-sdk/client-dynamodb";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDocumentClient, testDynamoDb, uniqueName } from "./helpers.ts";

// Window state relies on DynamoDB's conditional writes for exactly-once updates; this proves the
// emulator the tests run on enforces them like the service does.
describe("DynamoDB Local conditional writes", () => {
  const tableName = uniqueName("conditional");
  const dynamodb = testDynamoDb();
  const documents = testDocumentClient();

  beforeAll(async () => {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      }),
    );
  });
  afterAll(async () => {
    await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
    dynamodb.destroy();
  });

  const applyOffset = (offset: number) =>
    documents.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: "user#u1" },
        UpdateExpression: "SET appliedOffset = :offset ADD #total :amount",
        ExpressionAttributeNames: { "#total": "total" }, // TOTAL is a reserved word
        ConditionExpression: "attribute_not_exists(appliedOffset) OR appliedOffset < :offset",
        ExpressionAttributeValues: { ":offset": offset, ":amount": 10 },
      }),
    );

  it("applies a conditional UpdateItem whose condition holds", async () => {
    // Act
    await applyOffset(5);

    // Assess
    const { Item } = await documents.send(
      new GetCommand({ TableName: tableName, Key: { pk: "user#u1" } }),
    );
    expect(Item).toEqual({ pk: "user#u1", appliedOffset: 5, total: 10 });
  });

  it("rejects an UpdateItem whose condition fails with ConditionalCheckFailedException", async () => {
    // Act: offset 5 again, as a retried Lambda batch would.
    const replay = applyOffset(5);

    // Assess: refused, and the item is untouched.
    await expect(replay).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const { Item } = await documents.send(
      new GetCommand({ TableName: tableName, Key: { pk: "user#u1" } }),
    );
    expect(Item?.total).toBe(10);
  });
});
