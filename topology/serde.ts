/**
 * Serdes turn typed keys and values into bytes and back.
 *
 * They are synchronous on purpose: the hot path (decode → process → store → encode) runs
 * without a promise per record. Serdes that need the network (the schema registry) resolve
 * what they need up front (`prefetch`) and then encode/decode from their caches.
 */
import { Packr } from 'msgpackr';

export interface Serde<T> {
  serialize(value: T, topic?: string): Buffer;
  deserialize(data: Buffer, topic?: string): T;
  /**
   * Called by a runtime before `deserialize` on a batch of raw payloads, so that a serde can fetch
   * whatever it lacks (for Avro: writer schemas by id). Serdes with nothing to fetch omit it.
   */
  prefetch?(payloads: readonly Buffer[]): Promise<void>;
}

// One packer per serde: msgpackr keeps per-packer scratch buffers, no state crosses values.
const packer = (): Packr => new Packr({ useRecords: true, moreTypes: false, mapsAsObjects: true });
const JSON_OBJECT_START = 0x7b; // '{'

export const Serdes = {
  /** UTF-8 strings. Keys of most topics are opaque ids (transaction id, account token). */
  String: {
    serialize: (v: string) => Buffer.from(v, 'utf8'),
    deserialize: (b: Buffer) => b.toString('utf8'),
  } satisfies Serde<string>,

  /** Raw bytes, passed through untouched. */
  Buffer: {
    serialize: (v: Buffer) => v,
    deserialize: (b: Buffer) => b,
  } satisfies Serde<Buffer>,

  /** JSON, for internal topics and tests; public topics use Avro (schemas/). */
  Json<T>(): Serde<T> {
    return {
      serialize: (v: T) => Buffer.from(JSON.stringify(v), 'utf8'),
      deserialize: (b: Buffer) => JSON.parse(b.toString('utf8')) as T,
    };
  },

  /**
   * MessagePack with records (msgpackr), for objects stored at a high rate (state-store values
   * serialized at every cache flush). Objects of the same shape inside one value share one key
   * list, so arrays of buckets pack to ~⅔ of their JSON and serialize ~1.5-2× faster; doubles
   * stay float64. Each value is self-contained (record definitions inline, no shared structure
   * table), so any instance restores a changelog without state outside the record.
   *
   * Reads JSON objects too (a MessagePack value of an object never starts with `{`), so a store can
   * move from `Json()` to `Packed()` without a migration. Unlike JSON, NaN, ±Infinity and
   * `undefined` round-trip as themselves instead of becoming null or disappearing.
   */
  Packed<T extends object>(): Serde<T> {
    const packr = packer();
    return {
      serialize: (v: T) => packr.pack(v),
      deserialize: (b: Buffer) => (b[0] === JSON_OBJECT_START ? (JSON.parse(b.toString('utf8')) as T) : (packr.unpack(b) as T)),
    };
  },

  /** Signed 64-bit big-endian, so that byte order equals numeric order for non-negative values. */
  Long: {
    serialize: (v: number) => {
      const b = Buffer.allocUnsafe(8);
      b.writeBigInt64BE(BigInt(Math.trunc(v)));
      return b;
    },
    deserialize: (b: Buffer) => Number(b.readBigInt64BE(0)),
  } satisfies Serde<number>,

  /** IEEE 754 double, big-endian. */
  Double: {
    serialize: (v: number) => {
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleBE(v);
      return b;
    },
    deserialize: (b: Buffer) => b.readDoubleBE(0),
  } satisfies Serde<number>,
} as const;
