/**
 * Serdes the DSL uses for its own stores; users never see these bytes except in changelogs.
 */
import type { Serde } from '../serde.js';

/** An aggregate and the highest timestamp of the records in it (Kafka Streams' ValueAndTimestamp). */
export interface ValueAndTimestamp<V> {
  value: V;
  timestamp: number;
}

/** int64 timestamp followed by the value's bytes. */
export function valueAndTimestampSerde<V>(inner: Serde<V>): Serde<ValueAndTimestamp<V>> {
  return {
    serialize(vt) {
      const value = inner.serialize(vt.value);
      const out = Buffer.allocUnsafe(8 + value.length);
      out.writeBigInt64BE(BigInt(vt.timestamp), 0);
      value.copy(out, 8);
      return out;
    },
    deserialize(data) {
      return { timestamp: Number(data.readBigInt64BE(0)), value: inner.deserialize(data.subarray(8)) };
    },
  };
}

/** A list of values, each length-prefixed (int32), for join buffers holding several records per key and timestamp. */
export function listSerde<V>(inner: Serde<V>): Serde<V[]> {
  return {
    serialize(list) {
      const parts: Buffer[] = [];
      for (const v of list) {
        const bytes = inner.serialize(v);
        const len = Buffer.allocUnsafe(4);
        len.writeInt32BE(bytes.length, 0);
        parts.push(len, bytes);
      }
      return Buffer.concat(parts);
    },
    deserialize(data) {
      const out: V[] = [];
      let pos = 0;
      while (pos < data.length) {
        const len = data.readInt32BE(pos);
        pos += 4;
        out.push(inner.deserialize(data.subarray(pos, pos + len)));
        pos += len;
      }
      return out;
    },
  };
}

/**
 * Records waiting in a stream–stream outer-join store: the side is in the key (OuterJoinKey), so
 * this only needs to know which serde to use — a leading byte 1 (left) or 0 (right), then the list.
 */
export function outerJoinValuesSerde<VL, VR>(left: Serde<VL>, right: Serde<VR>): Serde<unknown[]> {
  const leftList = listSerde(left);
  const rightList = listSerde(right);
  return {
    serialize(list) {
      // Values carry no side tag at run time; the processor stores one side's values per key, so
      // the tag is written by tagging the list (see taggedList below).
      const tagged = list as TaggedList;
      const side = tagged.leftSide === false ? 0 : 1;
      const body = side === 1 ? leftList.serialize(list as VL[]) : rightList.serialize(list as VR[]);
      return Buffer.concat([Buffer.from([side]), body]);
    },
    deserialize(data) {
      const side = data.readUInt8(0);
      const list: TaggedList = side === 1 ? leftList.deserialize(data.subarray(1)) : rightList.deserialize(data.subarray(1));
      list.leftSide = side === 1;
      return list;
    },
  };
}

/** A value list that knows which join side it belongs to (set by the outer-join processor). */
export type TaggedList = unknown[] & { leftSide?: boolean };
