/**
 * The state bucket of a group key: FNV-1a (32-bit) over its UTF-16 code units, modulo the
 * pipeline's `stateBuckets`. Stable across processes and releases, since stored state is laid out
 * by it: changing this function is changing the table's layout.
 */
export function bucketOf(groupKey: string, buckets: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < groupKey.length; i++) {
    hash ^= groupKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % buckets;
}
