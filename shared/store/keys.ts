/**
 * Key layout of the state table (one table, documented here):
 *
 * | item | pk | sk | why |
 * |---|---|---|---|
 * | window shard | `w#<pipeline>#<repartition partition>#<bucket>` | `<start ms>#<end ms>` | the group keys of one bucket in one window, as a map key → aggregation state: a batch writes one item per bucket and window it touches, not one per key; partition × bucket partition keys spread the writes |
 * | split shard | same | `<start ms>#<end ms>#<path>` | a shard that would outgrow 400 KB is split: the root (or node) keeps `split: true` and no keys, its keys move to `path + "0"` / `path + "1"` by a second hash (`splitBitOf`); readers walk down from the root |
 * | partition progress | `p#<pipeline>#<repartition partition>` | `progress` | max event time and the window ends still open there (`openEnds`, recorded before their state is written); with `watermarkFrom: "sources"` also each source's progress (`s#<topic>/<partition>` → `{ m: max event time, at: wall clock, b: behind }`) and the partition's own watermark (`wm`); one item and one partition key per Kafka partition, written by that partition's invocations only, so no key is written by every invocation |
 * | watermark | `p#<pipeline>` | `watermark` | `watermarkFrom: "max"` only: the pipeline's watermark, monotonic, written by every invocation that moves it |
 * | layout | `p#<pipeline>` | `layout` | `partitions` and `stateBuckets` the state was written with; a pipeline whose definition differs refuses to run |
 *
 * A window is identified by its end (all windows of a pipeline have one size), so closing the
 * windows that end at one time in one partition reads its `stateBuckets` shards by key: no index,
 * no scan. The window's state is queryable by the same keys (`entries.<group key>`).
 */
export const keys = {
  shard: (
    pipeline: string,
    partition: number,
    bucket: number,
    startMs: number,
    endMs: number,
    path = "",
  ) => ({
    pk: `w#${pipeline}#${partition}#${bucket}`,
    sk: path ? `${startMs}#${endMs}#${path}` : `${startMs}#${endMs}`,
  }),
  progressPk: (pipeline: string) => `p#${pipeline}`,
  partition: (pipeline: string, partition: number) => ({
    pk: `p#${pipeline}#${partition}`,
    sk: "progress",
  }),
  watermarkSk: "watermark",
  layoutSk: "layout",
} as const;
