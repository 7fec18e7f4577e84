/**
 * Byte-order helpers shared by the stores.
 *
 * Every store orders keys by their serialized bytes, compared unsigned and lexicographically
 * (RocksDB's default comparator, Kafka Streams' Bytes). In memory we key maps by the key's latin1
 * string: latin1 maps each byte to one UTF-16 code unit 0..255, so JavaScript's native string
 * comparison gives exactly unsigned byte order, and strings (unlike Buffers) work as Map keys.
 */

/** A Buffer's bytes as a string that sorts like the bytes. */
export function keyString(bytes: Buffer): string {
  return bytes.toString('latin1');
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

export function compareKeyStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The smallest key that sorts after `key`: turns an inclusive upper bound into an exclusive one. */
export function successor(key: Buffer): Buffer {
  const next = Buffer.allocUnsafe(key.length + 1);
  key.copy(next);
  next[key.length] = 0;
  return next;
}

/**
 * The smallest key greater than every key starting with `prefix`, or undefined when there is none
 * (an empty prefix, or one made only of 0xff bytes, bounds nothing).
 */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const bound = Buffer.from(prefix.subarray(0, end));
  bound[end - 1] = (bound[end - 1] as number) + 1;
  return bound;
}

/** A half-open key range [gte, lt); a missing side is unbounded. */
export interface KeyRange {
  gte?: Buffer | undefined;
  lt?: Buffer | undefined;
}

/** True when the range can hold no key at all. */
export function isEmptyRange(range: KeyRange): boolean {
  return range.gte !== undefined && range.lt !== undefined && Buffer.compare(range.gte, range.lt) >= 0;
}

const TWO_32 = 2 ** 32;

/**
 * Writes a non-negative safe integer as 8 bytes big-endian, so that byte order equals numeric
 * order. Negative numbers would break that (two's complement sorts them after positives), which is
 * why negative timestamps are rejected rather than encoded.
 */
export function writeUint64BE(target: Buffer, value: number, offset: number): void {
  target.writeUInt32BE(Math.floor(value / TWO_32), offset);
  target.writeUInt32BE(value % TWO_32, offset + 4);
}

export function readUint64BE(source: Buffer, offset: number): number {
  return source.readUInt32BE(offset) * TWO_32 + source.readUInt32BE(offset + 4);
}
