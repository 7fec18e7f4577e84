/**
 * What a KTable–KTable foreign-key join (KIP-213) sends between its two sides, after Kafka Streams'
 * foreignkeyjoin/SubscriptionWrapper, SubscriptionResponseWrapper and CombinedKeySchema:
 *
 * - a subscription (left → right, keyed by the foreign key): the left row's key, the partition it
 *   lives on, what the right side must do (Instruction) and a hash of the left value it was made
 *   from;
 * - a response (right → left, keyed by the left key, written to the left row's partition): that
 *   hash again and the right row's value (or null). The left side joins a response only while its
 *   row still hashes the same: a response to a value since replaced is stale and dropped.
 *
 * Byte layouts follow Kafka's (version and a null-hash flag in the first byte, a 16-byte hash, the
 * primary partition as int32 at the end). The hash is the first 16 bytes of SHA-256 of the value's
 * bytes rather than Kafka's Murmur3-128: node:crypto has it, and only riskloop reads these
 * internal topics (they are not exchanged with Java applications).
 */
import { createHash } from 'node:crypto';
import type { Serde } from '../serde.js';

export const SUBSCRIPTION_VERSION = 1;

export const Instruction = {
  /** Forget the subscription, emit nothing (the left row moved to another foreign key). */
  DELETE_KEY_NO_PROPAGATE: 0,
  /** Forget the subscription and answer with null (the left row was deleted). */
  DELETE_KEY_AND_PROPAGATE: 1,
  /** Subscribe; answer with the right row, or with null when there is none (the foreign key changed). */
  PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE: 2,
  /** Subscribe; answer only when the right row exists (a new left row of an inner join). */
  PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE: 3,
} as const;
export type Instruction = (typeof Instruction)[keyof typeof Instruction];

export interface SubscriptionWrapper<K> {
  /** Hash of the left value the subscription was made from; null when the left row was deleted. */
  readonly hash: Buffer | null;
  readonly instruction: Instruction;
  readonly primaryKey: K;
  /** Partition of the left row: the response goes back there. */
  readonly primaryPartition: number;
}

export interface SubscriptionResponseWrapper<VO> {
  readonly hash: Buffer | null;
  /** The right row's value, null when it has none. */
  readonly foreignValue: VO | null;
  readonly primaryPartition: number;
}

export const HASH_BYTES = 16;

/** The hash of a left value's bytes that a response must carry to be joined. */
export function valueHash(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest().subarray(0, HASH_BYTES);
}

export function sameHash(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}

const NULL_HASH = 0x80;

/** {1-bit hash is null}{7-bit version}{instruction}{16-byte hash?}{primary key bytes}{int32 primary partition} */
export function subscriptionWrapperSerde<K>(primaryKeySerde: Serde<K>): Serde<SubscriptionWrapper<K>> {
  return {
    serialize(w, topic) {
      const pk = primaryKeySerde.serialize(w.primaryKey, topic);
      const hashLen = w.hash === null ? 0 : HASH_BYTES;
      const out = Buffer.alloc(2 + hashLen + pk.length + 4);
      out.writeUInt8(SUBSCRIPTION_VERSION | (w.hash === null ? NULL_HASH : 0), 0);
      out.writeUInt8(w.instruction, 1);
      if (w.hash !== null) w.hash.copy(out, 2, 0, HASH_BYTES);
      pk.copy(out, 2 + hashLen);
      out.writeInt32BE(w.primaryPartition, out.length - 4);
      return out;
    },
    deserialize(data, topic) {
      const head = data.readUInt8(0);
      const version = head & 0x7f;
      if (version !== SUBSCRIPTION_VERSION) throw new Error(`subscription version ${version} is not supported (this library writes ${SUBSCRIPTION_VERSION})`);
      const instruction = data.readUInt8(1);
      if (instruction > Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE) throw new Error(`unknown subscription instruction ${instruction}`);
      const hashLen = head & NULL_HASH ? 0 : HASH_BYTES;
      const hash = hashLen === 0 ? null : Buffer.from(data.subarray(2, 2 + HASH_BYTES));
      const primaryKey = primaryKeySerde.deserialize(data.subarray(2 + hashLen, data.length - 4), topic);
      return { hash, instruction: instruction as Instruction, primaryKey, primaryPartition: data.readInt32BE(data.length - 4) };
    },
  };
}

const VALUE_PRESENT = 0x40;

/**
 * {1-bit hash is null}{1-bit value present}{6-bit version}{16-byte hash?}{int32 primary partition}{value bytes?}.
 * Kafka tells a null foreign value by an empty tail, which makes an empty serialized value null;
 * a flag bit avoids that.
 */
export function subscriptionResponseWrapperSerde<VO>(foreignValueSerde: Serde<VO>): Serde<SubscriptionResponseWrapper<VO>> {
  return {
    serialize(r, topic) {
      const value = r.foreignValue === null ? null : foreignValueSerde.serialize(r.foreignValue, topic);
      const hashLen = r.hash === null ? 0 : HASH_BYTES;
      const out = Buffer.alloc(1 + hashLen + 4 + (value?.length ?? 0));
      out.writeUInt8(SUBSCRIPTION_VERSION | (r.hash === null ? NULL_HASH : 0) | (value === null ? 0 : VALUE_PRESENT), 0);
      if (r.hash !== null) r.hash.copy(out, 1, 0, HASH_BYTES);
      out.writeInt32BE(r.primaryPartition, 1 + hashLen);
      value?.copy(out, 5 + hashLen);
      return out;
    },
    deserialize(data, topic) {
      const head = data.readUInt8(0);
      const version = head & 0x3f;
      if (version !== SUBSCRIPTION_VERSION) throw new Error(`subscription response version ${version} is not supported`);
      const hashLen = head & NULL_HASH ? 0 : HASH_BYTES;
      const hash = hashLen === 0 ? null : Buffer.from(data.subarray(1, 1 + HASH_BYTES));
      const primaryPartition = data.readInt32BE(1 + hashLen);
      const foreignValue = head & VALUE_PRESENT ? foreignValueSerde.deserialize(data.subarray(5 + hashLen), topic) : null;
      return { hash, foreignValue, primaryPartition };
    },
  };
}

/**
 * Keys of the subscription store (Kafka's CombinedKeySchema): {int32 foreign key length}{foreign
 * key bytes}{primary key bytes}, so that all subscribers of one foreign key share a byte prefix and
 * an update of the right row finds them with one prefix scan.
 */
export class CombinedKeySchema<KO, K> {
  constructor(
    private readonly foreignKeySerde: Serde<KO>,
    private readonly primaryKeySerde: Serde<K>,
  ) {}

  prefix(foreignKey: KO): Buffer {
    const fk = this.foreignKeySerde.serialize(foreignKey);
    const out = Buffer.allocUnsafe(4 + fk.length);
    out.writeInt32BE(fk.length, 0);
    fk.copy(out, 4);
    return out;
  }

  toBytes(foreignKey: KO, primaryKey: K): Buffer {
    return Buffer.concat([this.prefix(foreignKey), this.primaryKeySerde.serialize(primaryKey)]);
  }

  primaryKeyOf(combined: Buffer): K {
    const fkLen = combined.readInt32BE(0);
    return this.primaryKeySerde.deserialize(combined.subarray(4 + fkLen));
  }
}
