import {
  ConditionalCheckFailedException,
  type ConsumedCapacity,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { SourceProgress } from "../engine/source-watermark.ts";
import { ShardTooLargeError } from "./errors.ts";
import { itemSizeBytes } from "./item-size.ts";
import { keys } from "./keys.ts";
import { STATE_TABLE } from "./table.ts";
import {
  emptyStats,
  maxEventTimeOf,
  type OpenedEnds,
  type PartitionProgress,
  type PipelineProgress,
  requireOpened,
  type ShardId,
  type StateLayout,
  type StoredShard,
  shardKey,
  type WindowStore,
} from "./window-store.ts";

// BatchGetItem takes at most 100 keys per call.
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
const BATCH_GET_LIMIT = 100;
// A BatchGetItem answer holds at most 16 MB, so 100 shards near 400 KB take three rounds; the
// rest is throttling, retried with capped backoff (Lambda's timeout bounds it).
const MAX_UNPROCESSED_ROUNDS = 30;

type ShardItem = {
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
  /** Set on a split node: its keys are in its two children. */
  splitInto?: 2;
  path?: string;
};

// DynamoDB's item limit is 400 KB, counting every attribute's name and value; the margin covers
// the estimate's rounding. A shard is split before it would cross it (window-protocol.ts).
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
export const MAX_ITEM_BYTES = 400 * 1024 - 2_048;

/** {@link WindowStore} on the state table, through an injected document client. */
export class DynamoDbWindowStore implements WindowStore {
  readonly stats = emptyStats();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readProgress(pipeline: string, partitionCount?: number): Promise<PipelineProgress> {
    let watermarkMs: number | undefined;
    let layout: StateLayout | undefined;
    const items = await this.queryAll({
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": keys.progressPk(pipeline) },
      ConsistentRead: true,
    });
    for (const item of items) {
      if (item.sk === keys.watermarkSk) watermarkMs = item.watermarkMs as number;
      else if (item.sk === keys.layoutSk) {
        layout = {
          partitions: item.partitions as number,
          stateBuckets: item.stateBuckets as number,
        };
      }
    }
    const count = partitionCount ?? layout?.partitions ?? 0;
    const found = await this.batchGet(
      Array.from({ length: count }, (_, partition) => keys.partition(pipeline, partition)),
    );
    const partitions = found
      .map(progressOf)
      .filter((p): p is PartitionProgress => p !== undefined)
      .sort((a, b) => a.partition - b.partition);
    return { watermarkMs, partitions, layout };
  }

  async readPartition(pipeline: string, partition: number): Promise<PartitionProgress | undefined> {
    const answer = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.partition(pipeline, partition),
        ConsistentRead: true,
        ReturnConsumedCapacity: "TOTAL",
      }),
    );
    this.count(answer.ConsumedCapacity, "read");
    return answer.Item ? progressOf(answer.Item) : undefined;
  }

  async recordSources(
    pipeline: string,
    partition: number,
    sources: readonly SourceProgress[],
    watermarkMs: number | undefined,
    nowMs: number,
  ): Promise<boolean> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ":now": nowMs };
    const sets = ["since = if_not_exists(since, :now)", "#p = :p"];
    const guards: string[] = [];
    names["#p"] = "partition";
    values[":p"] = partition;
    sources.forEach((s, i) => {
      names[`#s${i}`] = `s#${s.source}`;
      values[`:s${i}`] = { m: s.maxEventTimeMs, at: s.seenAtMs, b: s.behind };
      values[`:m${i}`] = s.maxEventTimeMs;
      sets.push(`#s${i} = :s${i}`);
      // Never lowers a source's max event time (a retry or a racing invocation brings older news).
      guards.push(`(attribute_not_exists(#s${i}) OR #s${i}.m <= :m${i})`);
    });
    if (watermarkMs !== undefined) {
      values[":w"] = watermarkMs;
      sets.push("wm = :w");
      guards.push("(attribute_not_exists(wm) OR wm <= :w)");
    }
    return this.updateIf({
      TableName: this.tableName,
      Key: keys.partition(pipeline, partition),
      UpdateExpression: `SET ${sets.join(", ")}`,
      ...(guards.length > 0 ? { ConditionExpression: guards.join(" AND ") } : {}),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  async recordLayout(pipeline: string, layout: StateLayout): Promise<boolean> {
    return this.unlessConditionFails(async () => {
      const answer = await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: keys.progressPk(pipeline), sk: keys.layoutSk, ...layout },
          ConditionExpression:
            "attribute_not_exists(pk) OR (#partitions = :p AND stateBuckets = :b)",
          ExpressionAttributeNames: { "#partitions": "partitions" },
          ExpressionAttributeValues: { ":p": layout.partitions, ":b": layout.stateBuckets },
          ReturnConsumedCapacity: "TOTAL",
        }),
      );
      this.count(answer.ConsumedCapacity, "write");
    });
  }

  async openWindows(
    pipeline: string,
    partition: number,
    endsMs: readonly number[],
    nowMs: number,
  ): Promise<OpenedEnds> {
    await this.update({
      TableName: this.tableName,
      Key: keys.partition(pipeline, partition),
      UpdateExpression:
        endsMs.length > 0
          ? "SET updatedAtMs = :now, #p = :p ADD openEnds :ends"
          : "SET updatedAtMs = :now, #p = :p",
      ExpressionAttributeNames: { "#p": "partition" },
      ExpressionAttributeValues: {
        ":now": nowMs,
        ":p": partition,
        ...(endsMs.length > 0 ? { ":ends": new Set(endsMs) } : {}),
      },
    });
    return { partition, endsMs: new Set(endsMs) };
  }

  async recordProgress(pipeline: string, partition: number, maxEventTimeMs: number): Promise<void> {
    // Never lowers it: a retried or racing invocation may bring an older maximum.
    await this.updateIf({
      TableName: this.tableName,
      Key: keys.partition(pipeline, partition),
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
      Key: keys.partition(pipeline, partition),
      UpdateExpression: "DELETE openEnds :ends",
      ExpressionAttributeValues: { ":ends": new Set(endsMs) },
    });
  }

  async getShards(pipeline: string, ids: readonly ShardId[]): Promise<Map<string, StoredShard>> {
    const found = new Map<string, StoredShard>();
    const items = await this.batchGet(
      ids.map((id) => keys.shard(pipeline, id.partition, id.bucket, id.startMs, id.endMs, id.path)),
    );
    for (const item of items as ShardItem[]) {
      const shard = fromItem(item);
      found.set(shardKey(shard), shard);
    }
    return found;
  }

  /** Consistent BatchGetItem of any number of keys: 100 per call, unprocessed keys retried. */
  private async batchGet(
    itemKeys: ReadonlyArray<{ pk: string; sk: string }>,
  ): Promise<Array<Record<string, unknown>>> {
    const found: Array<Record<string, unknown>> = [];
    // BatchGetItem refuses a request that names a key twice.
    const unique = [...new Map(itemKeys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      let pending: Array<Record<string, unknown>> = unique.slice(i, i + BATCH_GET_LIMIT);
      for (let round = 0; pending.length > 0; round++) {
        if (round === MAX_UNPROCESSED_ROUNDS) {
          throw new Error(
            `BatchGetItem left ${pending.length} keys unprocessed after ${round} rounds`,
          );
        }
        if (round > 0) await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** round, 1_000)));
        const answer = await this.client.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
            ReturnConsumedCapacity: "TOTAL",
          }),
        );
        this.count(answer.ConsumedCapacity, "read");
        found.push(...(answer.Responses?.[this.tableName] ?? []));
        pending = answer.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  async fits(pipeline: string, shard: StoredShard): Promise<boolean> {
    return itemSizeBytes(toItem(pipeline, shard)) <= MAX_ITEM_BYTES;
  }

  async putShard(
    pipeline: string,
    opened: OpenedEnds,
    shard: StoredShard,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    requireOpened(opened, shard);
    return this.writeShard(pipeline, shard, expectedVersion);
  }

  async splitShard(
    pipeline: string,
    opened: OpenedEnds,
    shard: StoredShard,
    children: readonly [StoredShard, StoredShard],
  ): Promise<boolean> {
    requireOpened(opened, shard);
    const leafKey = keys.shard(
      pipeline,
      shard.partition,
      shard.bucket,
      shard.startMs,
      shard.endMs,
      shard.path,
    );
    const becomesSplit = toItem(pipeline, {
      ...shard,
      entries: new Map(),
      version: shard.version + 1,
      split: true,
    });
    // One transaction: the leaf turns into a split node (if still open at the version read, or
    // still absent) and both children appear with its keys; no reader sees half of it.
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
    try {
      const answer = await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...becomesSplit, ...leafKey },
                ...(shard.version === 0
                  ? { ConditionExpression: "attribute_not_exists(pk)" }
                  : {
                      ConditionExpression:
                        "version = :read AND attribute_not_exists(closedAtMs) AND attribute_not_exists(splitInto)",
                      ExpressionAttributeValues: { ":read": shard.version },
                    }),
              },
            },
            ...children.map((child) => {
              const item = toItem(pipeline, child);
              if (itemSizeBytes(item) > MAX_ITEM_BYTES) throw tooLarge(pipeline, child);
              return {
                Put: {
                  TableName: this.tableName,
                  Item: item,
                  ConditionExpression: "attribute_not_exists(pk)",
                },
              };
            }),
          ],
          ReturnConsumedCapacity: "TOTAL",
        }),
      );
      this.count(answer.ConsumedCapacity, "write");
      return true;
    } catch (error) {
      // A failed condition, or another transaction on the same items: re-read and decide again.
      if (error instanceof TransactionCanceledException) {
        this.countConflict();
        return false;
      }
      throw error;
    }
  }

  private async writeShard(
    pipeline: string,
    shard: StoredShard,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    const item = toItem(pipeline, shard);
    if (itemSizeBytes(item) > MAX_ITEM_BYTES) throw tooLarge(pipeline, shard);
    return this.unlessConditionFails(async () => {
      const answer = await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ...(expectedVersion === undefined
            ? { ConditionExpression: "attribute_not_exists(pk)" }
            : {
                // SHARD_TRANSITIONS.write: from open only (a closed or split item never reopens).
                ConditionExpression:
                  "version = :expected AND attribute_not_exists(closedAtMs) AND attribute_not_exists(splitInto)",
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
      return this.writeShard(pipeline, empty, undefined);
    }
    return this.updateIf({
      TableName: this.tableName,
      Key: keys.shard(pipeline, id.partition, id.bucket, id.startMs, id.endMs, id.path),
      UpdateExpression: "SET closedAtMs = :at, #ttl = :ttl, version = :next",
      ConditionExpression:
        "version = :read AND attribute_not_exists(closedAtMs) AND attribute_not_exists(splitInto)",
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

function progressOf(item: Record<string, unknown>): PartitionProgress | undefined {
  if (typeof item.partition !== "number") return undefined;
  const sources: SourceProgress[] = [];
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith("s#")) continue;
    const v = value as { m: number; at: number; b: boolean };
    sources.push({ source: name.slice(2), maxEventTimeMs: v.m, seenAtMs: v.at, behind: v.b });
  }
  return {
    partition: item.partition,
    maxEventTimeMs: maxEventTimeOf(item.maxEventTimeMs as number | undefined, sources),
    updatedAtMs: (item.updatedAtMs as number | undefined) ?? 0,
    openEndsMs: [...((item.openEnds as Set<number> | undefined) ?? [])].sort((a, b) => a - b),
    ...(typeof item.wm === "number" ? { watermarkMs: item.wm } : {}),
    ...(sources.length > 0
      ? { sources: sources.sort((a, b) => a.source.localeCompare(b.source)) }
      : {}),
    ...(typeof item.since === "number" ? { sinceMs: item.since } : {}),
  };
}

function toItem(pipeline: string, shard: StoredShard): ShardItem {
  return {
    ...keys.shard(pipeline, shard.partition, shard.bucket, shard.startMs, shard.endMs, shard.path),
    partition: shard.partition,
    bucket: shard.bucket,
    startMs: shard.startMs,
    endMs: shard.endMs,
    ...(shard.path ? { path: shard.path } : {}),
    entries: JSON.stringify(Object.fromEntries(shard.entries)),
    applied: { ...shard.applied },
    version: shard.version,
    ...(shard.closedAtMs === undefined ? {} : { closedAtMs: shard.closedAtMs }),
    ...(shard.expiresAtMs === undefined ? {} : { expiresAt: Math.ceil(shard.expiresAtMs / 1000) }),
    ...(shard.split ? { splitInto: 2 as const } : {}),
  };
}

function tooLarge(pipeline: string, shard: StoredShard): ShardTooLargeError {
  return new ShardTooLargeError(
    `pipeline '${pipeline}': window shard ${shardKey(shard)} would exceed DynamoDB's 400 KB item ` +
      `limit (${shard.entries.size} group keys); the protocol splits shards before this, so this is a bug`,
  );
}

function fromItem(item: ShardItem): StoredShard {
  return {
    partition: item.partition,
    bucket: item.bucket,
    startMs: item.startMs,
    endMs: item.endMs,
    ...(item.path ? { path: item.path } : {}),
    entries: new Map(Object.entries(JSON.parse(item.entries) as Record<string, unknown>)),
    applied: item.applied ?? {},
    version: item.version,
    ...(item.closedAtMs === undefined ? {} : { closedAtMs: item.closedAtMs }),
    ...(item.splitInto ? { split: true as const } : {}),
  };
}
