import { ConditionalCheckFailedException, type ConsumedCapacity } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { ShardTooLargeError } from "./errors.ts";
import { keys, partitionOfSk } from "./keys.ts";
import { STATE_TABLE } from "./table.ts";
import {
  emptyStats,
  type PartitionProgress,
  type PipelineProgress,
  type ShardId,
  type StoredShard,
  shardKey,
  type WindowStore,
} from "./window-store.ts";

// BatchGetItem takes at most 100 keys per call.
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
const BATCH_GET_LIMIT = 100;
const MAX_UNPROCESSED_ROUNDS = 8;

interface ShardItem {
  pk: string;
  sk: string;
  partition: number;
  bucket: number;
  startMs: number;
  endMs: number;
  /** JSON object, group key → aggregation state (a string: any key is safe, and it is compact). */
  entries: string;
  applied: Record<string, number>;
  version: number;
  closedAtMs?: number;
  expiresAt?: number;
}

// DynamoDB's item limit is 400 KB; this leaves room for the keys and attributes around the entries.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
const MAX_ENTRIES_BYTES = 380_000;

/** {@link WindowStore} on the state table, through an injected document client. */
export class DynamoDbWindowStore implements WindowStore {
  readonly stats = emptyStats();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readProgress(pipeline: string): Promise<PipelineProgress> {
    let watermarkMs: number | undefined;
    const partitions: PartitionProgress[] = [];
    const items = await this.queryAll({
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": keys.progressPk(pipeline) },
      ConsistentRead: true,
    });
    for (const item of items) {
      const partition = partitionOfSk(item.sk as string);
      if (item.sk === keys.watermarkSk) watermarkMs = item.watermarkMs as number;
      else if (partition !== undefined) {
        partitions.push({
          partition,
          maxEventTimeMs: item.maxEventTimeMs as number,
          updatedAtMs: item.updatedAtMs as number,
          openEndsMs: [...((item.openEnds as Set<number> | undefined) ?? [])].sort((a, b) => a - b),
        });
      }
    }
    return { watermarkMs, partitions };
  }

  async recordProgress(
    pipeline: string,
    partition: number,
    maxEventTimeMs: number,
    openedEndsMs: readonly number[],
    nowMs: number,
  ): Promise<void> {
    const key = { pk: keys.progressPk(pipeline), sk: keys.partitionSk(partition) };
    await this.update({
      TableName: this.tableName,
      Key: key,
      UpdateExpression:
        openedEndsMs.length > 0
          ? "SET updatedAtMs = :now ADD openEnds :ends"
          : "SET updatedAtMs = :now",
      ExpressionAttributeValues: {
        ":now": nowMs,
        ...(openedEndsMs.length > 0 ? { ":ends": new Set(openedEndsMs) } : {}),
      },
    });
    // Never lowers it: a retried or racing invocation may bring an older maximum.
    await this.updateIf({
      TableName: this.tableName,
      Key: key,
      UpdateExpression: "SET maxEventTimeMs = :m",
      ConditionExpression: "attribute_not_exists(maxEventTimeMs) OR maxEventTimeMs < :m",
      ExpressionAttributeValues: { ":m": maxEventTimeMs },
    });
  }

  async advanceWatermark(pipeline: string, watermarkMs: number): Promise<void> {
    await this.updateIf({
      TableName: this.tableName,
      Key: { pk: keys.progressPk(pipeline), sk: keys.watermarkSk },
      UpdateExpression: "SET watermarkMs = :w",
      ConditionExpression: "attribute_not_exists(watermarkMs) OR watermarkMs < :w",
      ExpressionAttributeValues: { ":w": watermarkMs },
    });
  }

  async closeEnds(pipeline: string, partition: number, endsMs: readonly number[]): Promise<void> {
    if (endsMs.length === 0) return;
    await this.update({
      TableName: this.tableName,
      Key: { pk: keys.progressPk(pipeline), sk: keys.partitionSk(partition) },
      UpdateExpression: "DELETE openEnds :ends",
      ExpressionAttributeValues: { ":ends": new Set(endsMs) },
    });
  }

  async getShards(pipeline: string, ids: readonly ShardId[]): Promise<Map<string, StoredShard>> {
    const found = new Map<string, StoredShard>();
    // BatchGetItem refuses a request that names a key twice.
    const unique = [...new Map(ids.map((id) => [shardKey(id), id])).values()];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      let pending: Array<Record<string, unknown>> = unique
        .slice(i, i + BATCH_GET_LIMIT)
        .map((id) => keys.shard(pipeline, id.partition, id.bucket, id.startMs, id.endMs));
      for (let round = 0; pending.length > 0; round++) {
        if (round === MAX_UNPROCESSED_ROUNDS) {
          throw new Error(
            `BatchGetItem left ${pending.length} keys unprocessed after ${round} rounds`,
          );
        }
        if (round > 0) await new Promise((r) => setTimeout(r, 25 * 2 ** round));
        const answer = await this.client.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
            ReturnConsumedCapacity: "TOTAL",
          }),
        );
        this.count(answer.ConsumedCapacity, "read");
        for (const item of (answer.Responses?.[this.tableName] ?? []) as ShardItem[]) {
          const shard = fromItem(item);
          found.set(shardKey(shard), shard);
        }
        pending = answer.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  async putShard(
    pipeline: string,
    shard: StoredShard,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    const entries = JSON.stringify(Object.fromEntries(shard.entries));
    const entriesBytes = Buffer.byteLength(entries);
    if (entriesBytes > MAX_ENTRIES_BYTES) {
      throw new ShardTooLargeError(
        `pipeline '${pipeline}': the window state of partition ${shard.partition}, bucket ${shard.bucket} ` +
          `would hold ${shard.entries.size} group keys (${Math.round(entriesBytes / 1024)} KB), ` +
          "more than a DynamoDB item takes: raise the pipeline's stateBuckets (on a drained pipeline)",
      );
    }
    const item: ShardItem = {
      ...keys.shard(pipeline, shard.partition, shard.bucket, shard.startMs, shard.endMs),
      partition: shard.partition,
      bucket: shard.bucket,
      startMs: shard.startMs,
      endMs: shard.endMs,
      entries,
      applied: { ...shard.applied },
      version: shard.version,
      ...(shard.closedAtMs === undefined ? {} : { closedAtMs: shard.closedAtMs }),
      ...(shard.expiresAtMs === undefined
        ? {}
        : { expiresAt: Math.ceil(shard.expiresAtMs / 1000) }),
    };
    return this.unlessConditionFails(async () => {
      const answer = await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ...(expectedVersion === undefined
            ? { ConditionExpression: "attribute_not_exists(pk)" }
            : {
                ConditionExpression: "version = :expected",
                ExpressionAttributeValues: { ":expected": expectedVersion },
              }),
          ReturnConsumedCapacity: "TOTAL",
        }),
      );
      this.count(answer.ConsumedCapacity, "write");
    });
  }

  async closeShard(
    pipeline: string,
    id: ShardId,
    readVersion: number | undefined,
    closedAtMs: number,
    expiresAtMs: number,
  ): Promise<boolean> {
    if (readVersion === undefined) {
      const empty = { ...id, entries: new Map(), applied: {}, version: 1, closedAtMs, expiresAtMs };
      return this.putShard(pipeline, empty, undefined);
    }
    return this.updateIf({
      TableName: this.tableName,
      Key: keys.shard(pipeline, id.partition, id.bucket, id.startMs, id.endMs),
      UpdateExpression: "SET closedAtMs = :at, #ttl = :ttl, version = :next",
      ConditionExpression: "version = :read AND attribute_not_exists(closedAtMs)",
      ExpressionAttributeNames: { "#ttl": STATE_TABLE.ttlAttribute },
      ExpressionAttributeValues: {
        ":at": closedAtMs,
        ":ttl": Math.ceil(expiresAtMs / 1000),
        ":read": readVersion,
        ":next": readVersion + 1,
      },
    });
  }

  /** Every page of a query on the table (or one of its indexes), counted. */
  private async queryAll(
    input: Omit<ConstructorParameters<typeof QueryCommand>[0], "TableName">,
  ): Promise<Array<Record<string, unknown>>> {
    const items: Array<Record<string, unknown>> = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          ...input,
          TableName: this.tableName,
          ExclusiveStartKey: startKey,
          ReturnConsumedCapacity: "TOTAL",
        }),
      );
      this.count(page.ConsumedCapacity, "read");
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  private async update(input: ConstructorParameters<typeof UpdateCommand>[0]): Promise<void> {
    const answer = await this.client.send(
      new UpdateCommand({ ...input, ReturnConsumedCapacity: "TOTAL" }),
    );
    this.count(answer.ConsumedCapacity, "write");
  }

  /** An update whose failing condition is an answer ("nothing to do"), not an error. */
  private updateIf(input: ConstructorParameters<typeof UpdateCommand>[0]): Promise<boolean> {
    return this.unlessConditionFails(() => this.update(input));
  }

  /** Runs a conditional write: true if it was applied, false if its condition failed. */
  private async unlessConditionFails(write: () => Promise<void>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        this.countConflict();
        return false;
      }
      throw error;
    }
  }

  private count(
    consumed: ConsumedCapacity | ConsumedCapacity[] | undefined,
    kind: "read" | "write",
  ): void {
    this.stats.calls++;
    for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
      if (kind === "read") this.stats.readCapacityUnits += c.CapacityUnits ?? 0;
      else this.stats.writeCapacityUnits += c.CapacityUnits ?? 0;
    }
  }

  private countConflict(): void {
    this.stats.calls++;
    this.stats.conditionalFailures++;
  }
}

function fromItem(item: ShardItem): StoredShard {
  return {
    partition: item.partition,
    bucket: item.bucket,
    startMs: item.startMs,
    endMs: item.endMs,
    entries: new Map(Object.entries(JSON.parse(item.entries) as Record<string, unknown>)),
    applied: item.applied ?? {},
    version: item.version,
    ...(item.closedAtMs === undefined ? {} : { closedAtMs: item.closedAtMs }),
  };
}
