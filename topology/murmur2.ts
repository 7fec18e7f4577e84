/**
 * Kafka's murmur2 hash and default partitioner for keyed records.
 *
 * Output and repartition topics must put a key on the same partition that a Java client or kafkajs'
 * DefaultPartitioner would, or a downstream co-partitioned join sees the key on the wrong task.
 * 32-bit arithmetic is done with Math.imul and `>>> 0`/`| 0` to match Java's int overflow exactly.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Java `Utils.murmur2(byte[])`: a signed 32-bit hash. */
export function murmur2(data: Buffer): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  // The tail bytes are mixed cumulatively (Java's switch falls through from case 3 to case 1).
  const rest = length % 4;
  if (rest >= 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `toPositive(murmur2(key)) % numPartitions`. */
export function partitionForKey(key: Buffer, numPartitions: number): number {
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}
