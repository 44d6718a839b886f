import { ConditionalCheckFailedException, type ConsumedCapacity } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { keys, partitionOfSk } from "./keys.ts";
import { STATE_TABLE } from "./table.ts";
import {
  emptyStats,
  type PartitionProgress,
  type PipelineProgress,
  type StoredWindow,
  type WindowId,
  type WindowStore,
  windowKey,
} from "./window-store.ts";

// BatchGetItem takes at most 100 keys per call.
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
const BATCH_GET_LIMIT = 100;
const MAX_UNPROCESSED_ROUNDS = 8;

interface WindowItem {
  pk: string;
  sk: string;
  groupKey: string;
  startMs: number;
  endMs: number;
  partition: number;
  state: unknown;
  applied: Record<string, number>;
  version: number;
  due?: string;
  emittedAtMs?: number;
  expiresAt?: number;
}

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

  async getWindows(pipeline: string, ids: readonly WindowId[]): Promise<Map<string, StoredWindow>> {
    const found = new Map<string, StoredWindow>();
    // BatchGetItem refuses a request that names a key twice.
    const unique = [...new Map(ids.map((id) => [windowKey(id), id])).values()];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      let pending: Array<Record<string, unknown>> = unique
        .slice(i, i + BATCH_GET_LIMIT)
        .map((id) => keys.window(pipeline, id.groupKey, id.startMs, id.endMs));
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
        for (const item of (answer.Responses?.[this.tableName] ?? []) as WindowItem[]) {
          const window = fromItem(item);
          found.set(windowKey(window), window);
        }
        pending = answer.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  async putWindow(
    pipeline: string,
    window: StoredWindow,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    const item: WindowItem = {
      ...keys.window(pipeline, window.groupKey, window.startMs, window.endMs),
      groupKey: window.groupKey,
      startMs: window.startMs,
      endMs: window.endMs,
      partition: window.partition,
      state: window.state,
      applied: { ...window.applied },
      version: window.version,
      ...(window.open ? { due: keys.due(pipeline, window.partition, window.endMs) } : {}),
      ...(window.emittedAtMs === undefined ? {} : { emittedAtMs: window.emittedAtMs }),
      ...(window.expiresAtMs === undefined
        ? {}
        : { expiresAt: Math.ceil(window.expiresAtMs / 1000) }),
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

  async openWindowsEndingAt(
    pipeline: string,
    partition: number,
    endMs: number,
  ): Promise<WindowId[]> {
    const items = await this.queryAll({
      IndexName: STATE_TABLE.dueIndex,
      KeyConditionExpression: "#due = :due",
      ExpressionAttributeNames: { "#due": STATE_TABLE.dueKey },
      ExpressionAttributeValues: { ":due": keys.due(pipeline, partition, endMs) },
    });
    const ids = items.map((item) => idFromKeys(item.pk as string, item.sk as string, pipeline));
    return ids;
  }

  async markEmitted(
    pipeline: string,
    id: WindowId,
    emittedAtMs: number,
    expiresAtMs: number,
  ): Promise<boolean> {
    return this.updateIf({
      TableName: this.tableName,
      Key: keys.window(pipeline, id.groupKey, id.startMs, id.endMs),
      UpdateExpression: "SET emittedAtMs = :at, #ttl = :ttl, version = version + :one REMOVE #due",
      ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(emittedAtMs)",
      ExpressionAttributeNames: { "#due": STATE_TABLE.dueKey, "#ttl": STATE_TABLE.ttlAttribute },
      ExpressionAttributeValues: {
        ":at": emittedAtMs,
        ":ttl": Math.ceil(expiresAtMs / 1000),
        ":one": 1,
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

function fromItem(item: WindowItem): StoredWindow {
  return {
    groupKey: item.groupKey,
    startMs: item.startMs,
    endMs: item.endMs,
    partition: item.partition,
    state: item.state,
    applied: item.applied ?? {},
    version: item.version,
    open: item.due !== undefined,
    ...(item.emittedAtMs === undefined ? {} : { emittedAtMs: item.emittedAtMs }),
  };
}

function idFromKeys(pk: string, sk: string, pipeline: string): WindowId {
  const prefix = `w#${pipeline}#`;
  const [startMs, endMs] = sk.split("#").map(Number);
  return { groupKey: pk.slice(prefix.length), startMs: startMs as number, endMs: endMs as number };
}
