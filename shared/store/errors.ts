/**
 * A store error. `retriable` says whether a retry of the same batch can succeed (Lambda retries
 * every failed batch until it does: see the README's "Exactly once").
 */
export class StoreError extends Error {
  override readonly name: string = "StoreError";
  readonly retriable: boolean = true;
}

/**
 * A write asked to store an item larger than the store allows. The window protocol splits a shard
 * before it gets there (`fits`), so this means a bug, not a configuration to change.
 */
export class ShardTooLargeError extends StoreError {
  override readonly name = "ShardTooLargeError";
  override readonly retriable = false;
}

/**
 * The pipeline's `partitions` or `stateBuckets` differ from the layout its state was written with:
 * a key would have its state in two places and two different totals would go out under one result
 * id. Not retriable: the definition or the state must change.
 */
export class StateLayoutChangedError extends StoreError {
  override readonly name = "StateLayoutChangedError";
  override readonly retriable = false;
}
