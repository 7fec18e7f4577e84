/**
 * KTable–KTable foreign-key joins (KIP-213): Kafka Streams' KTableKTableForeignKeyJoinIntegrationTest
 * (a TopologyTestDriver test despite its name), KTableKTableForeignKeyJoinScenarioTest and
 * KTableKTableForeignKeyInnerJoinMultiIntegrationTest. The Java tests compare
 * `readKeyValuesToMap()` (last value per key, tombstones kept as null) and the result store's
 * contents; so do these, through the same helpers. Parameters as the Java test's `data()`: leftJoin
 * × materialized (a named store "store" or a generated one) × rejoin (the result joined back with
 * the left table); its optimization parameter does not apply (riskloop has no topology optimizer)
 * and the versioned-store variants are not ported (no versioned stores yet).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  Consumed,
  Materialized,
  Produced,
  Serdes,
  StreamsBuilder,
  type KTable,
  type Serde,
  type TestOutputTopic,
  TopologyTestDriver,
} from '../../topology/index.js';
import { IntSerde, Str } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const LEFT_TABLE = 'left_table';
const RIGHT_TABLE = 'right_table';
const OUTPUT = 'output-topic';
const REJOIN_OUTPUT = 'rejoin-output-topic';
/** The Java test's baseTimestamp (MockTime's start); any value works, the assertions carry no timestamps. */
const base = 1_700_000_000_000;

/** TestOutputTopic.readKeyValuesToMap(): the last value of each key, a tombstone as null. */
function readKeyValuesToMap<K, V>(out: TestOutputTopic<K, V>): { [key: string]: V | null } {
  const map: { [key: string]: V | null } = {};
  for (const r of out.readRecordsToList()) map[String(r.key)] = r.value;
  return map;
}

interface Params {
  leftJoin: boolean;
  materialized: boolean;
  rejoin: boolean;
}

const defaultExtractor = (value: string): string | null => value.split('|')[1] ?? null;

/** The Java test's getTopology(): left/right String tables, joined on the foreign key after '|'. */
async function setup(p: Params, extractor: (value: string) => string | null = defaultExtractor) {
  const builder = new StreamsBuilder();
  const left = builder.table(LEFT_TABLE, Consumed.with(Str, Str));
  const right = builder.table(RIGHT_TABLE, Consumed.with(Str, Str));
  const joiner = (v1: string, v2: string | null) => `(${v1},${v2})`;
  const rejoiner = (v1: string | null, v2: string | null) => `rejoin(${v1},${v2})`;
  // Not materialized in Java means a store with a generated name here (results are always kept).
  const mainMaterialized = p.materialized ? Materialized.as<string, string>('store').withValueSerde(Str) : Materialized.with<string, string>(undefined, Str);
  const rejoinMaterialized = p.materialized ? Materialized.as<string, string>('store-rejoin').withKeySerde(Str).withValueSerde(Str) : Materialized.with<string, string>(Str, Str);
  let fkJoin: KTable<string, string>;
  if (p.leftJoin) {
    fkJoin = left.leftJoin(right, extractor, joiner, mainMaterialized);
    fkJoin.toStream().to(OUTPUT, Produced.with(Str, Str));
    if (p.rejoin) fkJoin.leftJoin(left, rejoiner, rejoinMaterialized).toStream().to(REJOIN_OUTPUT, Produced.with(Str, Str));
  } else {
    fkJoin = left.join(right, extractor, joiner, mainMaterialized);
    fkJoin.toStream().to(OUTPUT, Produced.with(Str, Str));
    if (p.rejoin) fkJoin.join(left, rejoiner, rejoinMaterialized).toStream().to(REJOIN_OUTPUT, Produced.with(Str, Str));
  }
  const topology = builder.build({ applicationId: 'fk-join' });
  driver = await TopologyTestDriver.create(topology);
  const d = driver;
  return {
    topology,
    left: d.createInputTopic(LEFT_TABLE, Str, Str),
    right: d.createInputTopic(RIGHT_TABLE, Str, Str),
    output: d.createOutputTopic(OUTPUT, Str, Str),
    rejoinOutput: d.createOutputTopic(REJOIN_OUTPUT, Str, Str),
    /** asMap(store), only when the Java test has a queryable store. */
    expectStore(expected: { [key: string]: string }) {
      if (!p.materialized) return;
      const got: { [key: string]: string } = {};
      for (const { key, value } of d.getKeyValueStore<string, string>('store').all()) got[key] = value;
      expect(got).toEqual(expected);
    },
  };
}

const params: Params[] = [];
for (const leftJoin of [true, false]) for (const materialized of [true, false]) for (const rejoin of [true, false]) params.push({ leftJoin, materialized, rejoin });
const title = (p: Params) => `leftJoin=${p.leftJoin} materialized=${p.materialized} rejoin=${p.rejoin}`;

describe('KTableKTableForeignKeyJoinIntegrationTest (Kafka Streams conformance)', () => {
  it.each(params.map((p) => [title(p), p] as const))('doJoinFromLeftThenDeleteLeftEntity [%s]', async (_t, p) => {
    const { left, right, output, rejoinOutput, expectStore } = await setup(p);
    await right.pipeInput('rhs1', 'rhsValue1', base);
    await right.pipeInput('rhs2', 'rhsValue2', base + 1);
    await right.pipeInput('rhs3', 'rhsValue3', base + 2); // this unreferenced FK won't show up in any results
    expect(readKeyValuesToMap(output)).toEqual({});
    if (p.rejoin) expect(readKeyValuesToMap(rejoinOutput)).toEqual({});
    expectStore({});

    await left.pipeInput('lhs1', 'lhsValue1|rhs1', base + 3);
    await left.pipeInput('lhs2', 'lhsValue2|rhs2', base + 4);
    const expected = { lhs1: '(lhsValue1|rhs1,rhsValue1)', lhs2: '(lhsValue2|rhs2,rhsValue2)' };
    expect(readKeyValuesToMap(output)).toEqual(expected);
    if (p.rejoin) {
      expect(readKeyValuesToMap(rejoinOutput)).toEqual({
        lhs1: 'rejoin((lhsValue1|rhs1,rhsValue1),lhsValue1|rhs1)',
        lhs2: 'rejoin((lhsValue2|rhs2,rhsValue2),lhsValue2|rhs2)',
      });
    }
    expectStore(expected);

    // Add another reference to an existing FK
    await left.pipeInput('lhs3', 'lhsValue3|rhs1', base + 5);
    expect(readKeyValuesToMap(output)).toEqual({ lhs3: '(lhsValue3|rhs1,rhsValue1)' });
    if (p.rejoin) expect(readKeyValuesToMap(rejoinOutput)).toEqual({ lhs3: 'rejoin((lhsValue3|rhs1,rhsValue1),lhsValue3|rhs1)' });
    expectStore({ lhs1: '(lhsValue1|rhs1,rhsValue1)', lhs2: '(lhsValue2|rhs2,rhsValue2)', lhs3: '(lhsValue3|rhs1,rhsValue1)' });

    // Now delete one LHS entity such that one delete is propagated down to the output.
    await left.pipeInput('lhs1', null, base + 6);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: null });
    if (p.rejoin) expect(readKeyValuesToMap(rejoinOutput)).toEqual({ lhs1: null });
    expectStore({ lhs2: '(lhsValue2|rhs2,rhsValue2)', lhs3: '(lhsValue3|rhs1,rhsValue1)' });
  });

  it.each(params.map((p) => [title(p), p] as const))('doJoinFromRightThenDeleteRightEntity [%s]', async (_t, p) => {
    const { left, right, output, expectStore } = await setup(p);
    await left.pipeInput('lhs1', 'lhsValue1|rhs1', base);
    await left.pipeInput('lhs2', 'lhsValue2|rhs2', base + 1);
    await left.pipeInput('lhs3', 'lhsValue3|rhs1', base + 2);
    const halfJoined = { lhs1: '(lhsValue1|rhs1,null)', lhs2: '(lhsValue2|rhs2,null)', lhs3: '(lhsValue3|rhs1,null)' };
    expect(readKeyValuesToMap(output)).toEqual(p.leftJoin ? halfJoined : {});
    expectStore(p.leftJoin ? halfJoined : {});

    await right.pipeInput('rhs1', 'rhsValue1', base + 3);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1|rhs1,rhsValue1)', lhs3: '(lhsValue3|rhs1,rhsValue1)' });
    expectStore(
      p.leftJoin
        ? { lhs1: '(lhsValue1|rhs1,rhsValue1)', lhs2: '(lhsValue2|rhs2,null)', lhs3: '(lhsValue3|rhs1,rhsValue1)' }
        : { lhs1: '(lhsValue1|rhs1,rhsValue1)', lhs3: '(lhsValue3|rhs1,rhsValue1)' },
    );

    await right.pipeInput('rhs2', 'rhsValue2', base + 4);
    expect(readKeyValuesToMap(output)).toEqual({ lhs2: '(lhsValue2|rhs2,rhsValue2)' });
    const all = { lhs1: '(lhsValue1|rhs1,rhsValue1)', lhs2: '(lhsValue2|rhs2,rhsValue2)', lhs3: '(lhsValue3|rhs1,rhsValue1)' };
    expectStore(all);

    await right.pipeInput('rhs3', 'rhsValue3', base + 5); // this unreferenced FK won't show up in any results
    expect(readKeyValuesToMap(output)).toEqual({});
    expectStore(all);

    // Now delete the RHS entity such that all matching keys have deletes propagated.
    await right.pipeInput('rhs1', null, base + 6);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: p.leftJoin ? '(lhsValue1|rhs1,null)' : null, lhs3: p.leftJoin ? '(lhsValue3|rhs1,null)' : null });
    expectStore(
      p.leftJoin
        ? { lhs1: '(lhsValue1|rhs1,null)', lhs2: '(lhsValue2|rhs2,rhsValue2)', lhs3: '(lhsValue3|rhs1,null)' }
        : { lhs2: '(lhsValue2|rhs2,rhsValue2)' },
    );
  });

  it.each(params.map((p) => [title(p), p] as const))('shouldEmitTombstoneWhenDeletingNonJoiningRecords [%s]', async (_t, p) => {
    const { left, output, expectStore } = await setup(p);
    await left.pipeInput('lhs1', 'lhsValue1|rhs1', base);
    const expected: { [key: string]: string } = p.leftJoin ? { lhs1: '(lhsValue1|rhs1,null)' } : {};
    expect(readKeyValuesToMap(output)).toEqual(expected);
    expectStore(expected);

    // Deleting a non-joining record produces an unnecessary tombstone for inner joins, because
    // it's not possible to know whether a result was previously emitted.
    // For the left join, the tombstone is necessary.
    await left.pipeInput('lhs1', null, base + 1);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: null });
    expectStore({});

    // Deleting a non-existing record is idempotent
    await left.pipeInput('lhs1', null, base + 2);
    expect(readKeyValuesToMap(output)).toEqual({});
    expectStore({});
  });

  it.each(params.map((p) => [title(p), p] as const))('shouldNotEmitTombstonesWhenDeletingNonExistingRecords [%s]', async (_t, p) => {
    const { left, output, expectStore } = await setup(p);
    // Deleting a record that never existed doesn't need to emit tombstones.
    await left.pipeInput('lhs1', null, base);
    expect(readKeyValuesToMap(output)).toEqual({});
    expectStore({});
  });

  it.each(params.map((p) => [title(p), p] as const))('joinShouldProduceNullsWhenValueHasNonMatchingForeignKey [%s]', async (_t, p) => {
    const { left, right, output, expectStore } = await setup(p);
    await left.pipeInput('lhs1', 'lhsValue1|rhs1', base);
    // no output for a new inner join on a non-existent FK; the left join emits the half-joined output
    expect(readKeyValuesToMap(output)).toEqual(p.leftJoin ? { lhs1: '(lhsValue1|rhs1,null)' } : {});
    expectStore(p.leftJoin ? { lhs1: '(lhsValue1|rhs1,null)' } : {});
    // "moving" the subscription to another non-existent FK: an unnecessary tombstone for the inner join
    await left.pipeInput('lhs1', 'lhsValue1|rhs2', base + 1);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: p.leftJoin ? '(lhsValue1|rhs2,null)' : null });
    expectStore(p.leftJoin ? { lhs1: '(lhsValue1|rhs2,null)' } : {});
    await left.pipeInput('lhs1', 'lhsValue1|rhs3', base + 2);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: p.leftJoin ? '(lhsValue1|rhs3,null)' : null });
    expectStore(p.leftJoin ? { lhs1: '(lhsValue1|rhs3,null)' } : {});
    // rhs1 was referenced before but is not now: no change at all
    await right.pipeInput('rhs1', 'rhsValue1', base + 3);
    expect(readKeyValuesToMap(output)).toEqual({});
    expectStore(p.leftJoin ? { lhs1: '(lhsValue1|rhs3,null)' } : {});
    // now a FK that exists: the join completes
    await left.pipeInput('lhs1', 'lhsValue1|rhs1', base + 4);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1|rhs1,rhsValue1)' });
    expectStore({ lhs1: '(lhsValue1|rhs1,rhsValue1)' });
    // back to a non-existent one: a tombstone for the inner join, an update for the left join
    await left.pipeInput('lhs1', 'lhsValue1|rhs2', base + 5);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: p.leftJoin ? '(lhsValue1|rhs2,null)' : null });
    expectStore(p.leftJoin ? { lhs1: '(lhsValue1|rhs2,null)' } : {});
  });

  it.each(params.map((p) => [title(p), p] as const))('shouldUnsubscribeOldForeignKeyIfLeftSideIsUpdated [%s]', async (_t, p) => {
    const { left, right, output, expectStore } = await setup(p);
    await right.pipeInput('rhs1', 'rhsValue1', base);
    await right.pipeInput('rhs2', 'rhsValue2', base + 1);
    expect(readKeyValuesToMap(output)).toEqual({});
    expectStore({});
    await left.pipeInput('lhs1', 'lhsValue1|rhs1', base + 2);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1|rhs1,rhsValue1)' });
    expectStore({ lhs1: '(lhsValue1|rhs1,rhsValue1)' });
    // Change LHS foreign key reference
    await left.pipeInput('lhs1', 'lhsValue1|rhs2', base + 3);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1|rhs2,rhsValue2)' });
    expectStore({ lhs1: '(lhsValue1|rhs2,rhsValue2)' });
    // Populate RHS update on old LHS foreign key ref
    await right.pipeInput('rhs1', 'rhsValue1Delta', base + 4);
    expect(readKeyValuesToMap(output)).toEqual({});
    expectStore({ lhs1: '(lhsValue1|rhs2,rhsValue2)' });
  });

  const leftJoinParams = params.filter((p) => p.leftJoin);

  it.each(leftJoinParams.map((p) => [title(p), p] as const))('shouldEmitRecordOnNullForeignKeyForLeftJoins [%s]', async (_t, p) => {
    const { left, output, expectStore } = await setup(p, () => null);
    await left.pipeInput('lhs1', 'lhsValue1|rhs1', base);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1|rhs1,null)' });
    expectStore({ lhs1: '(lhsValue1|rhs1,null)' });
  });

  it.each(leftJoinParams.map((p) => [title(p), p] as const))('shouldEmitRecordWhenOldAndNewFkDiffer [%s]', async (_t, p) => {
    const extractor = (value: string) => {
      const split = value.split('|')[1]!;
      return split === 'returnNull' ? null : split;
    };
    const { topology, left, output, expectStore } = await setup(p, extractor);
    const subscriptionStoreName = topology.describe().toString().match(/KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-\d{10}/)?.[0];
    expect(subscriptionStoreName).toBeDefined();
    const subscriptionStore = driver!.getTimestampedKeyValueStore<Buffer, unknown>(subscriptionStoreName!);
    // Kafka's subscriptionStoreKey: {int32 fk length}{fk bytes}{pk bytes}
    const key = Buffer.concat([Buffer.from([0, 0, 0, 4]), Buffer.from('rhs1'), Buffer.from('lhs1')]);
    await left.pipeInput('lhs1', 'lhsValue1|rhs1', base);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1|rhs1,null)' });
    expectStore({ lhs1: '(lhsValue1|rhs1,null)' });
    expect(subscriptionStore.get(key)).toBeDefined();
    await left.pipeInput('lhs1', 'lhsValue1|returnNull', base);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1|returnNull,null)' });
    expectStore({ lhs1: '(lhsValue1|returnNull,null)' });
    expect(subscriptionStore.get(key)).toBeUndefined();
  });

  it.each(params.map((p) => [title(p), p] as const))('shouldIgnoreOutOfOrderRecordsIffVersioned (leftVersioned=false, rightVersioned=false) [%s]', async (_t, p) => {
    const { left, right, output, expectStore } = await setup(p);
    await right.pipeInput('rhs1', 'rhsValue1', base + 4);
    expect(readKeyValuesToMap(output)).toEqual({});
    expectStore({});
    await left.pipeInput('lhs1', 'lhsValue1|rhs1', base + 3);
    await left.pipeInput('lhs2', 'lhsValue2|rhs1', base + 5);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1|rhs1,rhsValue1)', lhs2: '(lhsValue2|rhs1,rhsValue1)' });
    expectStore({ lhs1: '(lhsValue1|rhs1,rhsValue1)', lhs2: '(lhsValue2|rhs1,rhsValue1)' });
    await left.pipeInput('lhs2', null, base + 6);
    expect(readKeyValuesToMap(output)).toEqual({ lhs2: null });
    expectStore({ lhs1: '(lhsValue1|rhs1,rhsValue1)' });
    // out-of-order LHS records: not versioned, so they are new results
    await left.pipeInput('lhs1', 'lhsValue1_ooo|rhs1', base + 2);
    await left.pipeInput('lhs2', 'lhsValue2_ooo|rhs1', base + 2);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1_ooo|rhs1,rhsValue1)', lhs2: '(lhsValue2_ooo|rhs1,rhsValue1)' });
    expectStore({ lhs1: '(lhsValue1_ooo|rhs1,rhsValue1)', lhs2: '(lhsValue2_ooo|rhs1,rhsValue1)' });
    await left.pipeInput('lhs1', null, base + 2);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: null });
    expectStore({ lhs2: '(lhsValue2_ooo|rhs1,rhsValue1)' });
    await left.pipeInput('lhs1', 'lhsValue1_new|rhs1', base + 8);
    await left.pipeInput('lhs2', 'lhsValue2_new|rhs1', base + 8);
    const latest = { lhs1: '(lhsValue1_new|rhs1,rhsValue1)', lhs2: '(lhsValue2_new|rhs1,rhsValue1)' };
    expect(readKeyValuesToMap(output)).toEqual(latest);
    expectStore(latest);
    await right.pipeInput('rhs1', 'rhsValue1_ooo', base + 1);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1_new|rhs1,rhsValue1_ooo)', lhs2: '(lhsValue2_new|rhs1,rhsValue1_ooo)' });
    expectStore({ lhs1: '(lhsValue1_new|rhs1,rhsValue1_ooo)', lhs2: '(lhsValue2_new|rhs1,rhsValue1_ooo)' });
    await right.pipeInput('rhs1', null, base + 1);
    if (p.leftJoin) {
      expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1_new|rhs1,null)', lhs2: '(lhsValue2_new|rhs1,null)' });
      expectStore({ lhs1: '(lhsValue1_new|rhs1,null)', lhs2: '(lhsValue2_new|rhs1,null)' });
    } else {
      expect(readKeyValuesToMap(output)).toEqual({ lhs1: null, lhs2: null });
      expectStore({});
    }
    await right.pipeInput('rhs1', 'rhsValue1_new', base + 6);
    expect(readKeyValuesToMap(output)).toEqual({ lhs1: '(lhsValue1_new|rhs1,rhsValue1_new)', lhs2: '(lhsValue2_new|rhs1,rhsValue1_new)' });
    expectStore({ lhs1: '(lhsValue1_new|rhs1,rhsValue1_new)', lhs2: '(lhsValue2_new|rhs1,rhsValue1_new)' });
  });
});

describe('KTableKTableForeignKeyJoinScenarioTest (Kafka Streams conformance)', () => {
  /** validateTopologyCanProcessData: A(1, "999-alpha"), B(999, "beta") → {1: "(999-alpha,(999-alpha,beta))"}. */
  async function validateTopologyCanProcessData(builder: StreamsBuilder) {
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'fk-scenario' }));
    const a = driver.createInputTopic('A', IntSerde, Str);
    const b = driver.createInputTopic('B', IntSerde, Str);
    const output = driver.createOutputTopic('output', IntSerde, Str);
    await a.pipeInput(1, '999-alpha');
    await b.pipeInput(999, 'beta');
    expect(readKeyValuesToMap(output)).toEqual({ 1: '(999-alpha,(999-alpha,beta))' });
  }

  it('shouldWorkWithDefaultAndEquiJoinResultSerdes: a foreign-key join result joined back with its left table', async () => {
    // riskloop has no default serdes: every serde is passed, which covers the Java test's serde variants.
    const builder = new StreamsBuilder();
    const aTable = builder.table('A', Consumed.with(IntSerde, Str));
    const bTable = builder.table('B', Consumed.with(IntSerde, Str));
    const fkJoinResult = aTable.join(bTable, (value) => Number.parseInt(value.split('-')[0]!, 10), (aVal, bVal) => `(${aVal},${bVal})`, Materialized.as<number, string>('asdf').withValueSerde(Str));
    const finalJoinResult = aTable.join(fkJoinResult, (aVal, fkJoinVal) => `(${aVal},${fkJoinVal})`, Materialized.with(IntSerde, Str));
    finalJoinResult.toStream().to('output', Produced.with(IntSerde, Str));
    await validateTopologyCanProcessData(builder);
  });

  it('shouldUseExpectedTopicsWithSerde: the subscription and response topics and the subscription store changelog are named as in Kafka Streams', async () => {
    const applicationId = 'ktable-ktable-joinOnForeignKey';
    const builder = new StreamsBuilder();
    const left = builder.table(LEFT_TABLE, Consumed.with(IntSerde, Str));
    const right = builder.table(RIGHT_TABLE, Consumed.with(IntSerde, Str));
    left
      .join(right, (value) => Number.parseInt(value.split('|')[1]!, 10), (v1, v2) => `(${v1},${v2})`, Materialized.with<number, string>(undefined, Str))
      .toStream()
      .to(OUTPUT, Produced.with(IntSerde, Str));
    const topology = builder.build({ applicationId });
    const internal = topology.internalTopics().map((t) => t.name);
    expect(internal).toEqual(
      expect.arrayContaining([
        `${applicationId}-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic`,
        `${applicationId}-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic`,
        `${applicationId}-KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010-changelog`,
      ]),
    );
    driver = await TopologyTestDriver.create(topology);
    await driver.createInputTopic(LEFT_TABLE, IntSerde, Str).pipeInput(2, 'lhsValue1|1');
    await driver.createInputTopic(RIGHT_TABLE, IntSerde, Str).pipeInput(1, 'rhsValue1');
    expect(readKeyValuesToMap(driver.createOutputTopic(OUTPUT, IntSerde, Str))).toEqual({ 2: '(lhsValue1|1,rhsValue1)' });
  });
});

/** Kafka's Serdes.Float(): IEEE 754 single precision, big-endian. */
const FloatSerde: Serde<number> = {
  serialize(v) {
    const b = Buffer.allocUnsafe(4);
    b.writeFloatBE(v, 0);
    return b;
  },
  deserialize: (b) => b.readFloatBE(0),
};
/** Java's Float.toString for these values: the shortest decimal that reads back as the same float. */
const javaFloat = (f: number) => String(Number.parseFloat(f.toPrecision(7)));

describe('KTableKTableForeignKeyInnerJoinMultiIntegrationTest (Kafka Streams conformance, on the test driver)', () => {
  it('shouldInnerJoinMultiPartitionQueryable: two chained foreign-key joins over tables of 3, 5 and 7 partitions into 11', async () => {
    const builder = new StreamsBuilder();
    const table1 = builder.table('table1', Consumed.with(IntSerde, FloatSerde));
    const table2 = builder.table('table2', Consumed.with(Str, Serdes.Long));
    const table3 = builder.table('table3', Consumed.with(IntSerde, Str));
    const tableOneKeyExtractor = (value: number) => String(Math.trunc(value));
    const joinedTableKeyExtractor = (value: string) => (value.includes('value2=10') ? 10 : 0);
    table1
      .join(table2, tableOneKeyExtractor, (v1, v2) => `value1=${javaFloat(v1)},value2=${v2}`, Materialized.as<number, string>('INNER-store1').withKeySerde(IntSerde).withValueSerde(Str))
      .join(table3, joinedTableKeyExtractor, (v1, v2) => `${v1},value3=${v2}`, Materialized.as<number, string>('INNER-store2').withKeySerde(IntSerde).withValueSerde(Str))
      .toStream()
      .to('output-', Produced.with(IntSerde, Str));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'KTable-FKJ-Multi' }), { partitions: { table1: 3, table2: 5, table3: 7, 'output-': 11 } });
    const t1 = driver.createInputTopic('table1', IntSerde, FloatSerde);
    const t2 = driver.createInputTopic('table2', Str, Serdes.Long);
    const t3 = driver.createInputTopic('table3', IntSerde, Str);
    for (const [k, v] of [[1, 1.33], [2, 2.22], [3, -1.22], [4, -2.22]] as const) await t1.pipeInput(k, v, 0);
    for (let i = 0; i <= 9; i++) await t2.pipeInput(String(i), i * 10, 0);
    await t3.pipeInput(10, 'waffle', 0);
    const out = driver.createOutputTopic('output-', IntSerde, Str);
    expect(out.readRecordsToList().map((r) => [r.key, r.value])).toEqual([[1, 'value1=1.33,value2=10,value3=waffle']]);
  });
});
