/**
 * Byte layouts of the window store.
 *
 * Engine key: [segmentId: 8 B BE][key length: 4 B BE][key bytes][windowStart: 8 B BE].
 * - Segment first, so a segment is one contiguous key range: dropping an expired segment is one
 *   range delete (a single RocksDB range tombstone), and fetchRange is one bounded scan per segment.
 *   One database with segment-prefixed keys rather than one RocksDB instance per segment (Kafka
 *   Streams' way) because a flush must be a single atomic batch across segments, and it keeps one
 *   set of files, WAL and block cache per store.
 * - The key's length before its bytes, so one key's windows are contiguous and a key is never a
 *   prefix-match of another ('a' vs 'a\x00'): fetchRange(key, from, to) is exactly
 *   [seg|len|key|from, seg|len|key|to], with no filtering. The price is that within a segment keys
 *   are ordered by (length, bytes), so fetchAll sorts each segment by (window start, key bytes).
 * - Fixed-width big-endian numbers so byte order is numeric order (hence no negative timestamps).
 *
 * Changelog key: [key bytes][windowStart: 8 B BE] (Kafka Streams' windowed changelog key without
 * its sequence number). It carries no segment, so a changelog restores into any segment interval.
 *
 * Segment ids are below 2^53, so every engine key starts with a 0x00 byte; the store's metadata
 * lives under a key starting with 0xff, outside every data range.
 */
import { readUint64BE, writeUint64BE } from './bytes.js';

const SEGMENT_BYTES = 8;
const LENGTH_BYTES = 4;
const TIME_BYTES = 8;

/** Where the store keeps its observed stream time, so that a reopened store still expires. */
export const OBSERVED_TIME_KEY = Buffer.from('\xffobservedStreamTime', 'latin1');

/** Throws unless `ts` is a usable window start: a non-negative integer number of epoch ms. */
export function checkWindowStart(storeName: string, ts: number): void {
  if (!Number.isSafeInteger(ts) || ts < 0) {
    throw new Error(`window store ${storeName}: window start must be a non-negative integer (epoch ms), got ${ts}`);
  }
}

export function segmentIdOf(windowStart: number, segmentIntervalMs: number): number {
  return Math.floor(windowStart / segmentIntervalMs);
}

export function segmentPrefix(segmentId: number): Buffer {
  const prefix = Buffer.allocUnsafe(SEGMENT_BYTES);
  writeUint64BE(prefix, segmentId, 0);
  return prefix;
}

export function storeKey(segmentId: number, key: Buffer, windowStart: number): Buffer {
  const out = Buffer.allocUnsafe(SEGMENT_BYTES + LENGTH_BYTES + key.length + TIME_BYTES);
  writeUint64BE(out, segmentId, 0);
  out.writeUInt32BE(key.length, SEGMENT_BYTES);
  key.copy(out, SEGMENT_BYTES + LENGTH_BYTES);
  writeUint64BE(out, windowStart, SEGMENT_BYTES + LENGTH_BYTES + key.length);
  return out;
}

export function isStoreKey(bytes: Buffer): boolean {
  return bytes.length >= SEGMENT_BYTES + LENGTH_BYTES + TIME_BYTES && bytes[0] === 0;
}

export function segmentIdOfStoreKey(bytes: Buffer): number {
  return readUint64BE(bytes, 0);
}

export function parseStoreKey(bytes: Buffer): { segmentId: number; key: Buffer; windowStart: number } {
  const length = bytes.readUInt32BE(SEGMENT_BYTES);
  if (bytes.length !== SEGMENT_BYTES + LENGTH_BYTES + length + TIME_BYTES) {
    throw new Error(`malformed window store key of ${bytes.length} bytes`);
  }
  const start = SEGMENT_BYTES + LENGTH_BYTES;
  return {
    segmentId: readUint64BE(bytes, 0),
    key: bytes.subarray(start, start + length),
    windowStart: readUint64BE(bytes, start + length),
  };
}

export function windowStartOfStoreKey(bytes: Buffer): number {
  return readUint64BE(bytes, bytes.length - TIME_BYTES);
}

export function changelogKey(key: Buffer, windowStart: number): Buffer {
  const out = Buffer.allocUnsafe(key.length + TIME_BYTES);
  key.copy(out, 0);
  writeUint64BE(out, windowStart, key.length);
  return out;
}

export function parseChangelogKey(bytes: Buffer): { key: Buffer; windowStart: number } {
  if (bytes.length < TIME_BYTES) throw new Error(`malformed windowed changelog key of ${bytes.length} bytes`);
  const split = bytes.length - TIME_BYTES;
  return { key: bytes.subarray(0, split), windowStart: readUint64BE(bytes, split) };
}

export function encodeTime(ts: number): Buffer {
  const out = Buffer.allocUnsafe(TIME_BYTES);
  writeUint64BE(out, ts, 0);
  return out;
}

export function decodeTime(bytes: Buffer): number {
  return readUint64BE(bytes, 0);
}
