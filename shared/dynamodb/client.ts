import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * A DynamoDB client. With an explicit `endpoint` (DynamoDB Local) it brings placeholder
 * credentials and a region when the environment has none, since the emulator ignores them but
 * the SDK requires them. Without one, the SDK resolves everything itself, including
 * `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` (with us-east-1 if no region is set then).
 */
export function createDynamoDbClient(
  endpoint?: string,
  config: DynamoDBClientConfig = {},
): DynamoDBClient {
  const local: DynamoDBClientConfig = endpoint
    ? {
        endpoint,
        region: process.env.AWS_REGION ?? "us-east-1",
        ...(process.env.AWS_ACCESS_KEY_ID
          ? {}
          : { credentials: { accessKeyId: "local", secretAccessKey: "local" } }),
      }
    : // An endpoint from the environment (LocalStack, …) still needs a region to sign with.
      process.env.AWS_REGION ||
        process.env.AWS_DEFAULT_REGION ||
        !(process.env.AWS_ENDPOINT_URL_DYNAMODB || process.env.AWS_ENDPOINT_URL)
      ? {}
      : { region: "us-east-1" };
  return new DynamoDBClient({ ...local, ...config });
}

/** The document client (plain JS values in and out) over {@link createDynamoDbClient}. */
export function createDocumentClient(endpoint?: string, config: DynamoDBClientConfig = {}) {
  return DynamoDBDocumentClient.from(createDynamoDbClient(endpoint, config), {
    marshallOptions: { removeUndefinedValues: true },
  });
}
