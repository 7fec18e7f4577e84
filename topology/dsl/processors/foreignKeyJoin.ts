/**
 * KTable–KTable foreign-key join (KIP-213), after Kafka Streams' foreignkeyjoin processors. The left
 * table L (key K) joins the right table R (key KO) on the foreign key `extractor(leftValue)`:
 *
 *   L ─ SubscriptionSend ─▶ <app>-…-SUBSCRIPTION-REGISTRATION-…-topic (keyed by KO, co-partitioned with R)
 *        ─ SubscriptionReceive (subscription store: (KO, K) → subscription) ─ SubscriptionJoinForeign (reads R)
 *   R ─ ForeignTableJoin (prefix scan of the subscription store for KO)
 *        both ─▶ <app>-…-SUBSCRIPTION-RESPONSE-…-topic (keyed by K, to the left row's partition)
 *        ─ ResponseJoin (reads L; drops responses whose hash is not the current left value's) ─ result table
 *
 * A left row that changes its foreign key unsubscribes from the old one (DELETE_KEY_NO_PROPAGATE) and
 * subscribes to the new one asking for an answer even if R has no row there
 * (PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE), so the old join result is retracted (inner: a tombstone)
 * or replaced (left: joined with null). The hash makes the left side ignore answers to values it
 * has since replaced: with several subscriptions in flight only the newest one's answer is joined.
 */
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { Serde } from '../../serde.js';
import { Serdes } from '../../serde.js';
import type { Change } from '../change.js';
import type { ValueAndTimestamp } from '../internalSerdes.js';
import { getWithTimestamp } from '../timestampedStore.js';
import {
  type CombinedKeySchema,
  Instruction,
  type SubscriptionResponseWrapper,
  type SubscriptionWrapper,
  sameHash,
  valueHash,
} from '../subscriptionWrapper.js';

/** The partition of the record being processed (a task's id is "<subtopology>_<partition>"). */
function currentPartition(ctx: ProcessorContext<unknown, unknown>): number {
  const meta = ctx.recordMetadata();
  if (meta !== null) return meta.partition;
  return Number(ctx.taskId.slice(ctx.taskId.lastIndexOf('_') + 1));
}

/** Left side: turns each left-row change into subscriptions, keyed by the foreign key. */
export class SubscriptionSendProcessor<K, V, KO> implements Processor<K, Change<V>, KO | null, SubscriptionWrapper<K>> {
  private ctx!: ProcessorContext<KO | null, SubscriptionWrapper<K>>;

  constructor(
    private readonly extractor: (value: V) => KO | null | undefined,
    private readonly foreignKeySerde: Serde<KO>,
    private readonly valueSerde: Serde<V>,
    private readonly leftJoin: boolean,
  ) {}

  init(context: ProcessorContext<KO | null, SubscriptionWrapper<K>>): void {
    this.ctx = context;
  }

  process(record: Record<K, Change<V>>): void {
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    const { newValue, oldValue } = record.value;
    // Every subscription of one change carries the hash of the new value (null for a delete).
    const hash = newValue === null ? null : valueHash(this.valueSerde.serialize(newValue));
    const send = (foreignKey: KO | null, instruction: Instruction) =>
      this.ctx.forward({
        key: foreignKey,
        value: { hash, instruction, primaryKey: record.key, primaryPartition: currentPartition(this.ctx as ProcessorContext<unknown, unknown>) },
        timestamp: record.timestamp,
        headers: record.headers,
      });
    const oldFk = oldValue === null ? null : (this.extractor(oldValue) ?? null);
    const newFk = newValue === null ? null : (this.extractor(newValue) ?? null);
    if (this.leftJoin) {
      if (oldValue !== null) {
        if (oldFk !== null && !this.sameKey(oldFk, newFk)) send(oldFk, Instruction.DELETE_KEY_AND_PROPAGATE);
        // A deleted left row (newValue null) still sends this: its answer is the tombstone.
        send(newFk, Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE);
      } else if (newValue !== null) {
        send(newFk, Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE);
      }
      return;
    }
    if (oldValue !== null) {
      if (oldFk === null) return this.ctx.recordDropped('null-key');
      if (newValue === null) return send(oldFk, Instruction.DELETE_KEY_AND_PROPAGATE);
      if (newFk === null) return this.ctx.recordDropped('null-key');
      if (!this.sameKey(oldFk, newFk)) send(oldFk, Instruction.DELETE_KEY_NO_PROPAGATE);
      // The foreign key may have changed: an answer is needed even without a right row, to retract
      // the old result.
      send(newFk, Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE);
    } else if (newValue !== null) {
      if (newFk === null) return this.ctx.recordDropped('null-key');
      send(newFk, Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE);
    }
  }

  private sameKey(a: KO | null, b: KO | null): boolean {
    if (a === null || b === null) return a === b;
    return this.foreignKeySerde.serialize(a).equals(this.foreignKeySerde.serialize(b));
  }
}

export interface CombinedKey<KO, K> {
  readonly foreignKey: KO | null;
  readonly primaryKey: K;
}

type StoredSubscription<K> = ValueAndTimestamp<SubscriptionWrapper<K>>;

/** Right side: keeps subscriptions in the subscription store (prefix-scannable by foreign key). */
export class SubscriptionReceiveProcessor<K, KO> implements Processor<KO | null, SubscriptionWrapper<K>, CombinedKey<KO, K>, Change<StoredSubscription<K>>> {
  private ctx!: ProcessorContext<CombinedKey<KO, K>, Change<StoredSubscription<K>>>;
  private store!: KeyValueStore<Buffer, StoredSubscription<K>>;

  constructor(
    private readonly storeName: string,
    private readonly keySchema: CombinedKeySchema<KO, K>,
  ) {}

  init(context: ProcessorContext<CombinedKey<KO, K>, Change<StoredSubscription<K>>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<KO | null, SubscriptionWrapper<K>>): void {
    const subscription = record.value;
    const stored: StoredSubscription<K> = { value: subscription, timestamp: record.timestamp };
    const key = { foreignKey: record.key, primaryKey: subscription.primaryKey };
    const base = { key, timestamp: record.timestamp, headers: record.headers };
    if (record.key === null || record.key === undefined) {
      // Only a left join's null foreign key comes here: answered with null, never stored.
      if (subscription.instruction !== Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE) return this.ctx.recordDropped('null-key');
      return this.ctx.forward({ ...base, key: { foreignKey: null, primaryKey: subscription.primaryKey }, value: { newValue: stored, oldValue: null } });
    }
    const storeKey = this.keySchema.toBytes(record.key, subscription.primaryKey);
    const old = this.store.get(storeKey) ?? null;
    if (subscription.instruction === Instruction.DELETE_KEY_AND_PROPAGATE || subscription.instruction === Instruction.DELETE_KEY_NO_PROPAGATE) {
      this.store.delete(storeKey);
    } else {
      this.store.put(storeKey, stored);
    }
    this.ctx.forward({ ...base, value: { newValue: stored, oldValue: old } });
  }
}

/** Right side: answers a subscription with the right row for its foreign key, as its instruction says. */
export class SubscriptionJoinForeignProcessor<K, KO, VO> implements Processor<CombinedKey<KO, K>, Change<StoredSubscription<K>>, K, SubscriptionResponseWrapper<VO>> {
  private ctx!: ProcessorContext<K, SubscriptionResponseWrapper<VO>>;
  private foreign!: KeyValueStore<KO, unknown>;

  constructor(private readonly foreignStoreName: string) {}

  init(context: ProcessorContext<K, SubscriptionResponseWrapper<VO>>): void {
    this.ctx = context;
    this.foreign = context.getStateStore(this.foreignStoreName);
  }

  process(record: Record<CombinedKey<KO, K>, Change<StoredSubscription<K>>>): void {
    const stored = record.value.newValue;
    if (stored === null) throw new Error('a subscription change always has a new value');
    const subscription = stored.value;
    const row = record.key.foreignKey === null ? undefined : getWithTimestamp<KO, VO>(this.foreign, record.key.foreignKey);
    const timestamp = row === undefined ? stored.timestamp : Math.max(stored.timestamp, row.timestamp);
    const respond = (foreignValue: VO | null) =>
      this.ctx.forward({
        key: record.key.primaryKey,
        value: { hash: subscription.hash, foreignValue, primaryPartition: subscription.primaryPartition },
        timestamp,
        headers: record.headers,
      });
    switch (subscription.instruction) {
      case Instruction.DELETE_KEY_AND_PROPAGATE:
        return respond(null);
      case Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE:
        return respond(row?.value ?? null);
      case Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE:
        if (row !== undefined) respond(row.value);
        return;
      case Instruction.DELETE_KEY_NO_PROPAGATE:
        return;
    }
  }
}

/** Right side: a change of a right row is sent to every left row subscribed to its key. */
export class ForeignTableJoinProcessor<K, KO, VO> implements Processor<KO, Change<VO>, K, SubscriptionResponseWrapper<VO>> {
  private ctx!: ProcessorContext<K, SubscriptionResponseWrapper<VO>>;
  private store!: KeyValueStore<Buffer, StoredSubscription<K>>;

  constructor(
    private readonly storeName: string,
    private readonly keySchema: CombinedKeySchema<KO, K>,
  ) {}

  init(context: ProcessorContext<K, SubscriptionResponseWrapper<VO>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<KO, Change<VO>>): void {
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    // Collected first: forwarding while iterating would read a store the same task may write.
    const subscribers = [...this.store.prefixScan(this.keySchema.prefix(record.key), Serdes.Buffer)];
    for (const { key, value } of subscribers) {
      this.ctx.forward({
        key: this.keySchema.primaryKeyOf(key),
        value: { hash: value.value.hash, foreignValue: record.value.newValue, primaryPartition: value.value.primaryPartition },
        timestamp: record.timestamp,
        headers: record.headers,
      });
    }
  }
}

/** Left side: joins a response with the current left row, if the response was made from it. */
export class ResponseJoinProcessor<K, V, VO, VR> implements Processor<K, SubscriptionResponseWrapper<VO>, K, VR | null> {
  private ctx!: ProcessorContext<K, VR | null>;
  private left!: KeyValueStore<K, unknown>;

  constructor(
    private readonly leftStoreName: string,
    private readonly valueSerde: Serde<V>,
    private readonly joiner: (value: V, foreignValue: VO | null) => VR,
    private readonly leftJoin: boolean,
  ) {}

  init(context: ProcessorContext<K, VR | null>): void {
    this.ctx = context;
    this.left = context.getStateStore(this.leftStoreName);
  }

  process(record: Record<K, SubscriptionResponseWrapper<VO>>): void {
    const current = getWithTimestamp<K, V>(this.left, record.key);
    const currentHash = current === undefined ? null : valueHash(this.valueSerde.serialize(current.value));
    // An answer to a left value that has since changed: a newer subscription's answer is on its way.
    if (!sameHash(record.value.hash, currentHash)) return this.ctx.recordDropped('stale');
    const { foreignValue } = record.value;
    let result: VR | null;
    if (current === undefined || (foreignValue === null && !this.leftJoin)) result = null;
    else result = this.joiner(current.value, foreignValue);
    this.ctx.forward({ key: record.key, value: result, timestamp: record.timestamp, headers: record.headers });
  }
}
