/**
 * Key layout of the state table (one table, documented here):
 *
 * | item | pk | sk | why |
 * |---|---|---|---|
 * | window state | `w#<pipeline>#<group key>` | `<start ms>#<end ms>` | one partition key per group key: writes spread over DynamoDB partitions, never one hot key per Kafka partition |
 * | partition progress | `p#<pipeline>` | `part#<repartition partition>` | max event time and the window ends still open there; one item per Kafka partition, written by that partition's invocation only |
 * | watermark | `p#<pipeline>` | `watermark` | the pipeline's watermark, monotonic; one Query on `p#<pipeline>` reads it with every partition's progress |
 *
 * Open final-mode windows carry `due = d#<pipeline>#<partition>#<end ms>`, a sparse, keys-only
 * global secondary index: the windows that close at one end time in one partition are a Query,
 * not a scan, and each window writes the index twice in its life (opened, emitted), not per event.
 */
export const keys = {
  window: (pipeline: string, groupKey: string, startMs: number, endMs: number) => ({
    pk: `w#${pipeline}#${groupKey}`,
    sk: `${startMs}#${endMs}`,
  }),
  progressPk: (pipeline: string) => `p#${pipeline}`,
  partitionSk: (partition: number) => `part#${partition}`,
  watermarkSk: "watermark",
  due: (pipeline: string, partition: number, endMs: number) =>
    `d#${pipeline}#${partition}#${endMs}`,
} as const;

/** Reads the partition number back from a progress item's sort key, or undefined for others. */
export function partitionOfSk(sk: string): number | undefined {
  return sk.startsWith("part#") ? Number(sk.slice(5)) : undefined;
}
