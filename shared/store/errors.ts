/**
 * A window shard grew past what one DynamoDB item holds (400 KB). Not retriable: the pipeline's
 * `stateBuckets` must be raised (on a drained pipeline) so each bucket holds fewer group keys.
 */
export class ShardTooLargeError extends Error {
  override readonly name = "ShardTooLargeError";
  readonly retriable = false;
}
