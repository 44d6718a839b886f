/** Header names sparkless writes. Prefixed so they never collide with a user's own headers. */
export const HEADERS = {
  /** Why a record went to the dead-letter topic. */
  error: "sparkless-error",
  sourceTopic: "sparkless-source-topic",
  sourcePartition: "sparkless-source-partition",
  sourceOffset: "sparkless-source-offset",
  sourceTimestamp: "sparkless-source-timestamp",
  /** A window result's deterministic id: consumers dedupe on it. */
  resultId: "sparkless-result-id",
  /** How far behind the watermark a late event's latest window closed, in ms. */
  lateByMs: "sparkless-late-by-ms",
  watermark: "sparkless-watermark",
} as const;
