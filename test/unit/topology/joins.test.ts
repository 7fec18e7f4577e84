/** Stream–table, stream–global-table and windowed stream–stream joins. */
import { afterEach, describe, expect, it } from 'vitest';
import { Consumed, JoinWindows, Joined, Materialized, Named, Produced, Serdes, StreamJoined, StreamsBuilder, TopologyTestDriver } from '../../../topology/index.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

interface Card {
  owner: string;
}
const cardSerde = Serdes.Json<Card>();

function cardTopology() {
  const builder = new StreamsBuilder();
  const cards = builder.table('cards', Consumed.with(Serdes.String, cardSerde), Materialized.as('cards-store'));
  const tx = builder.stream('tx', Consumed.with(Serdes.String, Serdes.Long));
  tx.join(cards, (amount, card) => `${card.owner}:${amount}`).to('enriched', Produced.with(Serdes.String, Serdes.String));
  tx.leftJoin(cards, (amount, card) => `${card?.owner ?? 'unknown'}:${amount}`).to('enriched-left', Produced.with(Serdes.String, Serdes.String));
  cards.toStream().to('card-changes');
  return builder.build({ applicationId: 'join' });
}

describe('KStream–KTable join', () => {
  it('joins each stream record with the table row current when it is processed; table updates emit nothing; tombstones delete rows', async () => {
    driver = await TopologyTestDriver.create(cardTopology());
    const tx = driver.createInputTopic('tx', Serdes.String, Serdes.Long);
    const cards = driver.createInputTopic('cards', Serdes.String, cardSerde);
    const inner = driver.createOutputTopic('enriched', Serdes.String, Serdes.String);
    const left = driver.createOutputTopic('enriched-left', Serdes.String, Serdes.String);

    // A stream record before the table has the row: inner join drops it, left join emits with null.
    await tx.pipeInput('c1', 100, 1_000);
    expect(inner.readValuesToList()).toEqual([]);
    expect(left.readValuesToList()).toEqual(['unknown:100']);

    // The table row arrives; this alone emits no join result.
    await cards.pipeInput('c1', { owner: 'alice' }, 1_100);
    expect(inner.isEmpty() && left.isEmpty()).toBe(true);

    // Stream records after the update see it.
    await tx.pipeInput('c1', 50, 1_200);
    expect(inner.readValuesToList()).toEqual(['alice:50']);
    expect(left.readValuesToList()).toEqual(['alice:50']);

    // An update of the row: later records see the new value, earlier results are not revised.
    await cards.pipeInput('c1', { owner: 'bob' }, 1_300);
    await tx.pipeInput('c1', 25, 1_400);
    expect(inner.readValuesToList()).toEqual(['bob:25']);
    expect(left.readValuesToList()).toEqual(['bob:25']);

    // A tombstone deletes the row.
    await cards.pipeInput('c1', null, 1_500);
    expect(driver.getKeyValueStore<string, Card>('cards-store').get('c1')).toBeUndefined();
    await tx.pipeInput('c1', 10, 1_600);
    expect(inner.readValuesToList()).toEqual([]);
    expect(left.readValuesToList()).toEqual(['unknown:10']);

    // The table's own changelog stream: updates, then null for the delete.
    expect(driver.createOutputTopic('card-changes', Serdes.String, cardSerde).readValuesToList()).toEqual([{ owner: 'alice' }, { owner: 'bob' }, null]);
    // Deleting a row that does not exist changes nothing and emits nothing.
    await cards.pipeInput('c9', null, 1_700);
    expect(driver.createOutputTopic('card-changes', Serdes.String, cardSerde).isEmpty()).toBe(true);
  });

  it('keeps the stream and the table in one sub-topology, which requires co-partitioned topics', async () => {
    const topology = cardTopology();
    expect(topology.subtopologies()).toHaveLength(1);
    await expect(TopologyTestDriver.create(topology, { partitions: { tx: 2, cards: 1 } })).rejects.toThrow(/not co-partitioned: cards=1, tx=2|not co-partitioned: tx=2, cards=1/);
    driver = await TopologyTestDriver.create(cardTopology(), { partitions: { tx: 2, cards: 2 } });
    expect(driver.streamTasks().map((t) => t.id)).toEqual(['0_0', '0_1']);
  });

  it('repartitions a re-keyed stream before joining, through <app>-<join name>-left-repartition', async () => {
    const builder = new StreamsBuilder();
    const cards = builder.table('cards', Consumed.with(Serdes.String, cardSerde), Materialized.as('cards-store'));
    builder
      .stream('tx-by-id', Consumed.with(Serdes.String, Serdes.Json<{ card: string; amount: number }>()))
      .selectKey((_id, tx) => tx.card)
      .join(cards, (tx, card) => `${card.owner}:${tx.amount}`, Joined.as('enrich'))
      .to('enriched', Produced.with(Serdes.String, Serdes.String));
    const topology = builder.build({ applicationId: 'risk' });
    expect(topology.internalTopics().map((t) => t.name)).toEqual(['risk-enrich-left-repartition', 'risk-cards-store-changelog']);

    // The repartition topic takes the table topic's partition count (co-partitioning).
    driver = await TopologyTestDriver.create(topology, { partitions: { 'tx-by-id': 1, cards: 3 } });
    expect(driver.partitionsOf('risk-enrich-left-repartition')).toBe(3);
    await driver.createInputTopic('cards', Serdes.String, cardSerde).pipeInput('c7', { owner: 'carol' }, 1);
    await driver.createInputTopic('tx-by-id', Serdes.String, Serdes.Json<{ card: string; amount: number }>()).pipeInput('tx-1', { card: 'c7', amount: 12 }, 2);
    expect(driver.createOutputTopic('enriched', Serdes.String, Serdes.String).readKeyValuesToList()).toEqual([{ key: 'c7', value: 'carol:12' }]);
  });
});

describe('KStream–KTable left join after a repartition (KIP-962)', () => {
  it('keeps a record whose new key is null: the left join emits it with no row; the inner join drops it', async () => {
    const builder = new StreamsBuilder();
    const cards = builder.table('cards', Consumed.with(Serdes.String, cardSerde), Materialized.as('cards-store'));
    // Re-keyed by the card in the value; a payment without a card has a null key.
    // The DSL's key type has no null (as in Kafka Streams' Java generics), so the null is cast in.
    const tx = builder.stream('payments', Consumed.with(Serdes.String, Serdes.String)).selectKey((_id, card) => (card === '' ? (null as unknown as string) : card));
    tx.leftJoin(cards, (card, row) => `${card || 'no-card'}:${row?.owner ?? 'unknown'}`).to('left-out', Produced.with(Serdes.String, Serdes.String));
    tx.join(cards, (card, row) => `${card}:${row.owner}`).to('inner-out', Produced.with(Serdes.String, Serdes.String));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'kip962' }));
    await driver.createInputTopic('cards', Serdes.String, cardSerde).pipeInput('c1', { owner: 'ann' }, 1);
    const payments = driver.createInputTopic('payments', Serdes.String, Serdes.String);
    await payments.pipeInput('p1', 'c1', 2);
    await payments.pipeInput('p2', '', 3);
    expect(driver.createOutputTopic('left-out', Serdes.String, Serdes.String).readKeyValuesToList()).toEqual([
      { key: 'c1', value: 'c1:ann' },
      { key: null, value: 'no-card:unknown' },
    ]);
    expect(driver.createOutputTopic('inner-out', Serdes.String, Serdes.String).readValuesToList()).toEqual(['c1:ann']);
    expect(driver.metrics().dropped['null-key']).toBe(1);
  });
});

describe('KStream–GlobalKTable join', () => {
  interface Tx {
    merchant: string;
    amount: number;
  }
  it('looks up the global table by a key derived from the record, without repartitioning', async () => {
    const builder = new StreamsBuilder();
    const merchants = builder.globalTable('merchants', Consumed.with(Serdes.String, Serdes.String), Materialized.as('merchant-risk'));
    const tx = builder.stream('tx', Consumed.with(Serdes.String, Serdes.Json<Tx>()));
    tx.join(merchants, (_id, t) => t.merchant, (t, risk) => `${t.merchant}/${risk}/${t.amount}`, Named.as('with-risk')).to('scored', Produced.with(Serdes.String, Serdes.String));
    tx.leftJoin(merchants, (_id, t) => t.merchant, (t, risk) => `${t.merchant}/${risk ?? 'unrated'}`).to('scored-left', Produced.with(Serdes.String, Serdes.String));
    const topology = builder.build({ applicationId: 'g' });
    expect(topology.subtopologies()).toHaveLength(1);
    expect(topology.internalTopics()).toEqual([]);

    // Global topics are read in full by every task, whatever the partition counts.
    driver = await TopologyTestDriver.create(topology, { partitions: { tx: 2, merchants: 3 } });
    const merchantsIn = driver.createInputTopic('merchants', Serdes.String, Serdes.String);
    const txIn = driver.createInputTopic('tx', Serdes.String, Serdes.Json<Tx>());
    await merchantsIn.pipeInput('m-1', 'low', 1);
    await merchantsIn.pipeInput('m-2', 'high', 1);
    for (const [id, merchant, amount] of [['t1', 'm-1', 5], ['t2', 'm-2', 7], ['t3', 'm-3', 9]] as const) await txIn.pipeInput(id, { merchant, amount }, 2);
    expect(driver.createOutputTopic('scored', Serdes.String, Serdes.String).readKeyValuesToList()).toEqual([
      { key: 't1', value: 'm-1/low/5' },
      { key: 't2', value: 'm-2/high/7' },
    ]);
    expect(driver.createOutputTopic('scored-left', Serdes.String, Serdes.String).readValuesToList()).toEqual(['m-1/low', 'm-2/high', 'm-3/unrated']);

    // Updates and tombstones on the global topic apply to later records.
    await merchantsIn.pipeInput('m-1', 'blocked', 3);
    await merchantsIn.pipeInput('m-2', null, 3);
    await txIn.pipeInput('t4', { merchant: 'm-1', amount: 1 }, 4);
    await txIn.pipeInput('t5', { merchant: 'm-2', amount: 1 }, 4);
    expect(driver.createOutputTopic('scored', Serdes.String, Serdes.String).readValuesToList()).toEqual(['m-1/blocked/1']);
    expect(driver.createOutputTopic('scored-left', Serdes.String, Serdes.String).readValuesToList()).toEqual(['m-1/blocked', 'm-2/unrated']);
    expect(driver.getKeyValueStore<string, string>('merchant-risk').get('m-2')).toBeUndefined();
  });
});

describe('KStream–KStream windowed join', () => {
  it('joins records of both streams within the time difference, whichever arrives first; out-of-order records still join (Kafka Streams KStreamKStreamJoinTest)', async () => {
    const builder = new StreamsBuilder();
    const payments = builder.stream('payments', Consumed.with(Serdes.String, Serdes.String));
    const auths = builder.stream('auths', Consumed.with(Serdes.String, Serdes.String));
    payments
      .join(auths, (p, a) => `${p}+${a}`, JoinWindows.ofTimeDifferenceAndGrace(5_000, 1_000), StreamJoined.as('pay-auth'))
      .to('matched', Produced.with(Serdes.String, Serdes.String));
    const topology = builder.build({ applicationId: 'ssj' });
    expect(topology.internalTopics().map((t) => t.name)).toEqual(['ssj-pay-auth-this-join-store-changelog', 'ssj-pay-auth-other-join-store-changelog']);
    driver = await TopologyTestDriver.create(topology);
    const pay = driver.createInputTopic('payments', Serdes.String, Serdes.String);
    const auth = driver.createInputTopic('auths', Serdes.String, Serdes.String);
    const out = driver.createOutputTopic('matched', Serdes.String, Serdes.String);
    const read = () => out.readRecordsToList().map((r) => `${r.key} ${r.value} @${r.timestamp}`);

    await pay.pipeInput('card', 'P1', 10_000);
    expect(read()).toEqual([]);
    // The right side arrives second, 4 s later: inside the window. Output time: the later of the two.
    await auth.pipeInput('card', 'A1', 14_000);
    expect(read()).toEqual(['card P1+A1 @14000']);
    // 5 001 ms after P1: outside.
    await auth.pipeInput('card', 'A2', 15_001);
    expect(read()).toEqual([]);
    // The left side arrives second (and out of order): joins both buffered auths within 5 s of 12 000.
    await pay.pipeInput('card', 'P2', 12_000);
    expect(read()).toEqual(['card P2+A1 @14000', 'card P2+A2 @15001']);
    // Exactly 5 000 ms apart is inside (the window is inclusive).
    await auth.pipeInput('card', 'A3', 17_000);
    expect(read()).toEqual(['card P2+A3 @17000']);
    // Other keys never match.
    await auth.pipeInput('other-card', 'A4', 17_000);
    expect(read()).toEqual([]);
    // Out of order, 7 s behind stream time (17 000): no drop, as in Kafka Streams — the record probes
    // the payments buffer (which keeps before + after + grace) and joins P1 and P2, then is buffered.
    await auth.pipeInput('card', 'A5', 10_000);
    expect(read()).toEqual(['card P1+A5 @10000', 'card P2+A5 @12000']);
    expect(driver.metrics().dropped.late ?? 0).toBe(0);
    // Far behind: older than the auth buffer retains (17 000 - 11 001): joins nothing, is not
    // buffered, and the drop is counted once.
    await pay.pipeInput('card', 'P3', 30_000);
    await auth.pipeInput('card', 'A7', 1_000);
    expect(read()).toEqual([]);
    expect(driver.metrics().dropped.expired).toBe(1);
    // A payment as far behind still finds A5 in the auth buffer, but not A7, which was never stored.
    await pay.pipeInput('card', 'P4', 5_000);
    expect(read()).toEqual(['card P4+A5 @10000']);
    expect(driver.metrics().dropped.expired).toBe(2);
  });

  it('asymmetric windows: before() and after() bound how far the other stream may be behind or ahead', async () => {
    const builder = new StreamsBuilder();
    const left = builder.stream('l', Consumed.with(Serdes.String, Serdes.String));
    const right = builder.stream('r', Consumed.with(Serdes.String, Serdes.String));
    // Right records may be up to 1 s before and 3 s after a left record.
    left.join(right, (l, r) => `${l}${r}`, JoinWindows.ofTimeDifferenceAndGrace(0, 60_000).before(1_000).after(3_000)).to('out', Produced.with(Serdes.String, Serdes.String));
    driver = await TopologyTestDriver.create(builder.build());
    const l = driver.createInputTopic('l', Serdes.String, Serdes.String);
    const r = driver.createInputTopic('r', Serdes.String, Serdes.String);
    await l.pipeInput('k', 'L', 10_000);
    for (const [v, ts] of [['a', 8_999], ['b', 9_000], ['c', 13_000], ['d', 13_001]] as const) await r.pipeInput('k', v, ts);
    expect(driver.createOutputTopic('out', Serdes.String, Serdes.String).readValuesToList()).toEqual(['Lb', 'Lc']);
  });
});
