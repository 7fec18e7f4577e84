/**
 * Serdes for windowed keys, in Kafka Streams' time-windowed layout (the inner key's bytes followed
 * by the window start as a big-endian int64), so Java consumers with TimeWindowedDeserializer can
 * read riskloop's windowed output. The layout carries no end: the deserializer adds the window size.
 */
import type { Serde } from './serde.js';
import type { Windowed } from './windows.js';

export function timeWindowedSerde<K>(inner: Serde<K>, windowSizeMs: number): Serde<Windowed<K>> {
  return {
    serialize(windowed, topic) {
      const key = inner.serialize(windowed.key, topic);
      const out = Buffer.allocUnsafe(key.length + 8);
      key.copy(out, 0);
      out.writeBigInt64BE(BigInt(windowed.window.start), key.length);
      return out;
    },
    deserialize(data, topic) {
      if (data.length < 8) throw new Error(`windowed key needs at least 8 bytes, got ${data.length}`);
      const start = Number(data.readBigInt64BE(data.length - 8));
      return { key: inner.deserialize(data.subarray(0, data.length - 8), topic), window: { start, end: start + windowSizeMs } };
    },
    ...(inner.prefetch ? { prefetch: (payloads: readonly Buffer[]) => inner.prefetch!(payloads.map((p) => p.subarray(0, Math.max(0, p.length - 8)))) } : {}),
  };
}

/**
 * Session-windowed keys in Kafka Streams' SessionKeySchema layout: the inner key's bytes, then the
 * session end and start as big-endian int64 (Java's SessionWindowedDeserializer reads it).
 */
export function sessionWindowedSerde<K>(inner: Serde<K>): Serde<Windowed<K>> {
  return {
    serialize(windowed, topic) {
      const key = inner.serialize(windowed.key, topic);
      const out = Buffer.allocUnsafe(key.length + 16);
      key.copy(out, 0);
      out.writeBigInt64BE(BigInt(windowed.window.end), key.length);
      out.writeBigInt64BE(BigInt(windowed.window.start), key.length + 8);
      return out;
    },
    deserialize(data, topic) {
      if (data.length < 16) throw new Error(`session-windowed key needs at least 16 bytes, got ${data.length}`);
      const end = Number(data.readBigInt64BE(data.length - 16));
      const start = Number(data.readBigInt64BE(data.length - 8));
      return { key: inner.deserialize(data.subarray(0, data.length - 16), topic), window: { start, end } };
    },
  };
}
