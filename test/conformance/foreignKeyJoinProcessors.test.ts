/**
 * The foreign-key join's processors one at a time, as Kafka Streams tests them with a mock context:
 * foreignkeyjoin/SubscriptionSendProcessorSupplierTest (which subscriptions a left-row change sends),
 * ResponseJoinProcessorSupplierTest (which responses the left side joins) and the wrapper serde
 * tests (round trips; Kafka's V0 format and its upgrade path do not exist here). Hashes are
 * riskloop's (see topology/dsl/subscriptionWrapper.ts), computed the same way from the value bytes.
 */
import { describe, expect, it } from 'vitest';
import type { ProcessorContext } from '../../topology/index.js';
import { Serdes } from '../../topology/index.js';
import type { Record } from '../../topology/records.js';
import type { Change } from '../../topology/dsl/change.js';
import { ResponseJoinProcessor, SubscriptionSendProcessor } from '../../topology/dsl/processors/foreignKeyJoin.js';
import {
  Instruction,
  type SubscriptionResponseWrapper,
  type SubscriptionWrapper,
  subscriptionResponseWrapperSerde,
  subscriptionWrapperSerde,
  valueHash,
} from '../../topology/dsl/subscriptionWrapper.js';

/** MockProcessorContext: records forwards and drops; record metadata says partition 0. */
function captureContext<K, V>(stores: { [name: string]: unknown } = {}) {
  const forwarded: Record<K, V>[] = [];
  const dropped: string[] = [];
  const ctx = {
    applicationId: 'app',
    taskId: '0_0',
    processorName: 'p',
    forward: (r: Record<K, V>) => void forwarded.push(r),
    recordDropped: (reason: string) => void dropped.push(reason),
    recordMetadata: () => ({ topic: 'topic', partition: 0, offset: 0 }),
    getStateStore: (name: string) => stores[name],
  };
  // Only the members the processors use; the rest of the interface is never reached.
  return { ctx: ctx as unknown as ProcessorContext<K, V>, forwarded, dropped };
}

/** The Java test's LeftValue: a foreign key or none; serialized as the key, or "null". */
interface LeftValue {
  foreignKey: string | null;
}
const lv = (foreignKey: string | null): LeftValue => ({ foreignKey });
const leftValueSerde = {
  serialize: (v: LeftValue) => Buffer.from(v.foreignKey ?? 'null'),
  deserialize: (b: Buffer): LeftValue => ({ foreignKey: b.toString() }),
};
const hash = (v: LeftValue) => valueHash(leftValueSerde.serialize(v));
const pk = 'pk';
const fk1 = 'fk1';
const fk2 = 'fk2';

function send(leftJoin: boolean, newValue: LeftValue | null, oldValue: LeftValue | null) {
  const processor = new SubscriptionSendProcessor<string, LeftValue, string>((v) => v.foreignKey, Serdes.String, leftValueSerde, leftJoin);
  const c = captureContext<string | null, SubscriptionWrapper<string>>();
  processor.init(c.ctx);
  processor.process({ key: pk, value: { newValue, oldValue } satisfies Change<LeftValue>, timestamp: 0, headers: {} });
  return c;
}
const sub = (key: string | null, h: Buffer | null, instruction: Instruction) => ({ key, value: { hash: h, instruction, primaryKey: pk, primaryPartition: 0 }, timestamp: 0, headers: {} });

describe('SubscriptionSendProcessorSupplierTest (Kafka Streams conformance)', () => {
  it('leftJoinShouldPropagateNewPrimaryKeyWithNonNullFK', () => {
    const v = lv(fk1);
    expect(send(true, v, null).forwarded).toEqual([sub(fk1, hash(v), Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE)]);
  });
  it('leftJoinShouldPropagateNewPrimaryKeyWithNullFK', () => {
    const v = lv(null);
    expect(send(true, v, null).forwarded).toEqual([sub(null, hash(v), Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE)]);
  });
  it('leftJoinShouldPropagateChangeOfFKFromNonNullToNonNullValue', () => {
    const v = lv(fk2);
    const { forwarded } = send(true, v, lv(fk1));
    expect(forwarded).toHaveLength(2);
    expect(forwarded[1]).toEqual(sub(fk2, hash(v), Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE));
  });
  it('leftJoinShouldPropagateNewRecordOfUnchangedFK', () => {
    const v = lv(fk1);
    expect(send(true, v, v).forwarded).toEqual([sub(fk1, hash(v), Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE)]);
  });
  it('leftJoinShouldPropagateChangeOfFKFromNonNullToNullValue', () => {
    const v = lv(null);
    const { forwarded } = send(true, v, lv(fk1));
    expect(forwarded.length).toBeGreaterThan(0);
    expect(forwarded[0]).toEqual(sub(fk1, hash(v), Instruction.DELETE_KEY_AND_PROPAGATE));
  });
  it('leftJoinShouldPropagateChangeFromNullFKToNonNullFKValue', () => {
    const v = lv(fk1);
    expect(send(true, v, lv(null)).forwarded).toEqual([sub(fk1, hash(v), Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE)]);
  });
  it('leftJoinShouldPropagateChangeFromNullFKToNullFKValue', () => {
    const v = lv(null);
    expect(send(true, v, v).forwarded).toEqual([sub(null, hash(v), Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE)]);
  });
  it('leftJoinShouldPropagateDeletionOfAPrimaryKey', () => {
    const { forwarded } = send(true, null, lv(fk1));
    expect(forwarded.length).toBeGreaterThan(0);
    expect(forwarded[0]).toEqual(sub(fk1, null, Instruction.DELETE_KEY_AND_PROPAGATE));
  });
  it('leftJoinShouldPropagateDeletionOfAPrimaryKeyThatHadNullFK', () => {
    expect(send(true, null, lv(null)).forwarded).toEqual([sub(null, null, Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE)]);
  });
  it('leftJoinShouldPropagateNothingWhenOldAndNewLeftValueIsNull', () => {
    expect(send(true, null, null).forwarded).toEqual([]);
  });
  it('innerJoinShouldPropagateNewPrimaryKey', () => {
    const v = lv(fk1);
    expect(send(false, v, null).forwarded).toEqual([sub(fk1, hash(v), Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE)]);
  });
  it('innerJoinShouldNotPropagateNewPrimaryKeyWithNullFK (and counts the drop)', () => {
    const { forwarded, dropped } = send(false, lv(null), null);
    expect(forwarded).toEqual([]);
    expect(dropped).toEqual(['null-key']);
  });
  it('innerJoinShouldDeleteOldAndPropagateNewFK', () => {
    const v = lv(fk2);
    expect(send(false, v, lv(fk1)).forwarded).toEqual([
      sub(fk1, hash(v), Instruction.DELETE_KEY_NO_PROPAGATE),
      sub(fk2, hash(v), Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE),
    ]);
  });
  it('innerJoinShouldPropagateNothingWhenOldAndNewFKIsNull (and counts the drop)', () => {
    const v = lv(null);
    const { forwarded, dropped } = send(false, v, v);
    expect(forwarded).toEqual([]);
    expect(dropped).toEqual(['null-key']);
  });
  it('innerJoinShouldPropagateDeletionOfPrimaryKey', () => {
    expect(send(false, null, lv(fk1)).forwarded).toEqual([sub(fk1, null, Instruction.DELETE_KEY_AND_PROPAGATE)]);
  });
  it('innerJoinShouldPropagateNothingWhenOldAndNewLeftValueIsNull', () => {
    expect(send(false, null, null).forwarded).toEqual([]);
  });
});

/** ResponseJoinProcessorSupplierTest: the left store holds lhs1 → leftValue (or nothing). */
function respond(leftJoin: boolean, leftValue: string | null, response: SubscriptionResponseWrapper<string>) {
  const rows = new Map<string, string>();
  if (leftValue !== null) rows.set('lhs1', leftValue);
  const c = captureContext<string, string | null>({ left: { get: (k: string) => rows.get(k) } });
  const processor = new ResponseJoinProcessor<string, string, string, string>('left', Serdes.String, (l, r) => `(${l},${r})`, leftJoin);
  processor.init(c.ctx);
  processor.process({ key: 'lhs1', value: response, timestamp: 0, headers: {} });
  return c;
}
const strHash = (s: string) => valueHash(Serdes.String.serialize(s));
const out = (value: string | null) => ({ key: 'lhs1', value, timestamp: 0, headers: {} });

describe('ResponseJoinProcessorSupplierTest (Kafka Streams conformance)', () => {
  it('shouldNotForwardWhenHashDoesNotMatch (and counts the drop)', () => {
    const { forwarded, dropped } = respond(false, 'lhsValue', { hash: strHash('oldLhsValue'), foreignValue: 'rhsValue', primaryPartition: 0 });
    expect(forwarded).toEqual([]);
    expect(dropped).toEqual(['stale']);
  });
  it('shouldIgnoreUpdateWhenLeftHasBecomeNull (and counts the drop)', () => {
    const { forwarded, dropped } = respond(false, null, { hash: strHash('lhsValue'), foreignValue: 'rhsValue', primaryPartition: 0 });
    expect(forwarded).toEqual([]);
    expect(dropped).toEqual(['stale']);
  });
  it('shouldForwardWhenHashMatches', () => {
    expect(respond(false, 'lhsValue', { hash: strHash('lhsValue'), foreignValue: 'rhsValue', primaryPartition: 0 }).forwarded).toEqual([out('(lhsValue,rhsValue)')]);
  });
  it('shouldEmitTombstoneForInnerJoinWhenRightIsNull', () => {
    expect(respond(false, 'lhsValue', { hash: strHash('lhsValue'), foreignValue: null, primaryPartition: 0 }).forwarded).toEqual([out(null)]);
  });
  it('shouldEmitResultForLeftJoinWhenRightIsNull', () => {
    expect(respond(true, 'lhsValue', { hash: strHash('lhsValue'), foreignValue: null, primaryPartition: 0 }).forwarded).toEqual([out('(lhsValue,null)')]);
  });
  it('shouldEmitTombstoneForLeftJoinWhenRightIsNullAndLeftIsNull', () => {
    expect(respond(true, null, { hash: null, foreignValue: null, primaryPartition: 0 }).forwarded).toEqual([out(null)]);
  });
});

describe('SubscriptionWrapperSerdeTest / SubscriptionResponseWrapperSerdeTest (Kafka Streams conformance, V1 only)', () => {
  const wrapperSerde = subscriptionWrapperSerde(Serdes.String);
  const responseSerde = subscriptionResponseWrapperSerde(Serdes.String);
  const h = strHash('x');

  it('shouldSerdeV1Test', () => {
    const w = { hash: h, instruction: Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE, primaryKey: 'originalPK', primaryPartition: 10 };
    expect(wrapperSerde.deserialize(wrapperSerde.serialize(w))).toEqual(w);
  });
  it('shouldSerdeNullHashV1Test', () => {
    const w = { hash: null, instruction: Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE, primaryKey: 'originalPK', primaryPartition: 10 };
    expect(wrapperSerde.deserialize(wrapperSerde.serialize(w))).toEqual(w);
  });
  it('shouldThrowExceptionOnUnsupportedVersionTest', () => {
    const bytes = wrapperSerde.serialize({ hash: h, instruction: Instruction.DELETE_KEY_NO_PROPAGATE, primaryKey: 'pk', primaryPartition: 0 });
    bytes.writeUInt8(0x7f, 0);
    expect(() => wrapperSerde.deserialize(bytes)).toThrow(/version/);
  });
  it('ShouldSerdeWithNonNullsTest', () => {
    const r = { hash: h, foreignValue: 'foreignValue', primaryPartition: 3 };
    expect(responseSerde.deserialize(responseSerde.serialize(r))).toEqual(r);
  });
  it('shouldSerdeWithNullForeignValueTest (and an empty foreign value stays empty, unlike Kafka’s)', () => {
    const r = { hash: h, foreignValue: null, primaryPartition: 3 };
    expect(responseSerde.deserialize(responseSerde.serialize(r))).toEqual(r);
    const empty = { hash: h, foreignValue: '', primaryPartition: 3 };
    expect(responseSerde.deserialize(responseSerde.serialize(empty))).toEqual(empty);
  });
  it('shouldSerdeWithNullHashTest', () => {
    const r = { hash: null, foreignValue: 'foreignValue', primaryPartition: 3 };
    expect(responseSerde.deserialize(responseSerde.serialize(r))).toEqual(r);
  });
  it('shouldSerdeWithNullsTest', () => {
    const r = { hash: null, foreignValue: null, primaryPartition: 3 };
    expect(responseSerde.deserialize(responseSerde.serialize(r))).toEqual(r);
  });
  it('shouldThrowExceptionWithBadVersionTest', () => {
    const bytes = responseSerde.serialize({ hash: h, foreignValue: 'v', primaryPartition: 0 });
    bytes.writeUInt8(0x3f, 0);
    expect(() => responseSerde.deserialize(bytes)).toThrow(/version/);
  });
});
