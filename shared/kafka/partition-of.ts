import { Partitioners, type PartitionMetadata } from "kafkajs";

const keyed = Partitioners.DefaultPartitioner();

/**
 * The partition Kafka's default partitioner gives `key` in a topic of `partitions` partitions:
 * murmur2 as Java's producer computes it (kafkajs's `DefaultPartitioner`). For records whose
 * partition we choose ourselves, so a key lands where a keyed record of it would.
 */
export function partitionOfKey(key: string, partitions: number): number {
  return keyed({
    topic: "",
    partitionMetadata: metadataOf(partitions),
    message: { key, value: null },
  });
}

const metadata = new Map<number, PartitionMetadata[]>();

/** Every partition with a leader: the partitioner hashes over all of them. */
function metadataOf(partitions: number): PartitionMetadata[] {
  let m = metadata.get(partitions);
  if (!m) {
    m = Array.from({ length: partitions }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      offlineReplicas: [],
    }));
    metadata.set(partitions, m);
  }
  return m;
}
