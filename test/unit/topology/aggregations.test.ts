/** groupByKey / groupBy with count, reduce and aggregate, and repartitioning by a new key. */
import { afterEach, describe, expect, it } from 'vitest';
import { Consumed, Grouped, Materialized, Produced, Repartitioned, Serdes, StreamsBuilder, TopologyTestDriver } from '../../../topology/index.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

interface Payment {
  card: string;
  merchant: string;
  amount: number;
}
const paymentSerde = Serdes.Json<Payment>();

describe('aggregations', () => {
  it('count, reduce and aggregate per key emit the new aggregate on every record and keep it in a store', async () => {
    const builder = new StreamsBuilder();
    const byCard = builder.stream('payments', Consumed.with(Serdes.String, Serdes.Long)).groupByKey();
    byCard.count(Materialized.as('count-per-card')).toStream().to('counts', Produced.with(Serdes.String, Serdes.Long));
    byCard.reduce((a, b) => Math.max(a, b), Materialized.as('max-per-card')).toStream().to('maxima');
    byCard
      .aggregate(() => ({ n: 0, total: 0 }), (_card, amount, agg) => ({ n: agg.n + 1, total: agg.total + amount }), Materialized.as<string, { n: number; total: number }>('stats-per-card').withValueSerde(Serdes.Json()))
      .toStream()
      .mapValues((s) => (s === null ? null : s.total / s.n))
      .to('averages', Produced.with(Serdes.String, Serdes.Double));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'agg' }));
    const input = driver.createInputTopic('payments', Serdes.String, Serdes.Long);
    await input.pipeInput('c1', 10, 1);
    await input.pipeInput('c2', 40, 2);
    await input.pipeInput('c1', 30, 3);
    await input.pipeInput('c1', 20, 4);

    expect(driver.createOutputTopic('counts', Serdes.String, Serdes.Long).readKeyValuesToList()).toEqual([
      { key: 'c1', value: 1 },
      { key: 'c2', value: 1 },
      { key: 'c1', value: 2 },
      { key: 'c1', value: 3 },
    ]);
    expect(driver.createOutputTopic('maxima', Serdes.String, Serdes.Long).readValuesToList()).toEqual([10, 40, 30, 30]);
    expect(driver.createOutputTopic('averages', Serdes.String, Serdes.Double).readValuesToList()).toEqual([10, 40, 20, 20]);
    expect(driver.getKeyValueStore<string, number>('count-per-card').get('c1')).toBe(3);
    expect(driver.getKeyValueStore<string, { n: number; total: number }>('stats-per-card').get('c1')).toEqual({ n: 3, total: 60 });
    // The aggregation's store is logged to <applicationId>-<store>-changelog.
    expect(driver.readRaw('agg-count-per-card-changelog').length).toBeGreaterThan(0);
  });

  it('records with a null key or value are not aggregated, and are counted as dropped', async () => {
    const builder = new StreamsBuilder();
    builder.stream('payments', Consumed.with(Serdes.String, Serdes.Long)).groupByKey().count(Materialized.as('counts'));
    driver = await TopologyTestDriver.create(builder.build());
    const input = driver.createInputTopic('payments', Serdes.String, Serdes.Long);
    await input.pipeInput(null, 5, 1);
    await input.pipeInput('c1', null, 2);
    await input.pipeInput('c1', 7, 3);
    expect([...driver.getKeyValueStore<string, number>('counts').all()]).toEqual([{ key: 'c1', value: 1 }]);
    expect(driver.metrics().dropped['null-key']).toBe(1);
    expect(driver.metrics().dropped['null-value']).toBe(1);
  });

  it('selectKey + groupByKey repartitions through <applicationId>-<name>-repartition, so records group by the new key', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('payments', Consumed.with(Serdes.String, paymentSerde))
      .selectKey((_txId, p) => p.merchant)
      .groupByKey(Grouped.with(Serdes.String, paymentSerde, 'by-merchant'))
      .aggregate(() => 0, (_m, p, total) => total + p.amount, Materialized.as<string, number>('merchant-totals').withValueSerde(Serdes.Double))
      .toStream()
      .to('merchant-totals-out', Produced.with(Serdes.String, Serdes.Double));
    const topology = builder.build({ applicationId: 'risk' });

    // Two sub-topologies, cut at the repartition topic.
    const subs = topology.subtopologies();
    expect(subs.map((s) => [s.sourceTopics, s.sinkTopics])).toEqual([
      [['payments'], ['risk-by-merchant-repartition']],
      [['risk-by-merchant-repartition'], ['merchant-totals-out']],
    ]);
    expect(topology.internalTopics().map((t) => [t.name, t.kind, t.config['cleanup.policy']])).toEqual([
      ['risk-by-merchant-repartition', 'repartition', 'delete'],
      ['risk-merchant-totals-changelog', 'changelog', 'compact'],
    ]);
    expect(topology.describe().toString()).toContain('Sink: by-merchant-repartition-sink (topic: risk-by-merchant-repartition)');

    driver = await TopologyTestDriver.create(topology, { partitions: { payments: 2 } });
    const input = driver.createInputTopic('payments', Serdes.String, paymentSerde);
    // Transaction ids as keys: the same merchant arrives on different input partitions.
    const payments: [string, Payment][] = [
      ['tx-1', { card: 'c1', merchant: 'shop', amount: 10 }],
      ['tx-2', { card: 'c2', merchant: 'shop', amount: 5 }],
      ['tx-3', { card: 'c1', merchant: 'cafe', amount: 3 }],
      ['tx-4', { card: 'c3', merchant: 'shop', amount: 1 }],
    ];
    for (const [tx, p] of payments) await input.pipeInput(tx, p, 100);
    const inputPartitions = new Set(driver.readRaw('payments').map((r) => r.partition));
    expect(inputPartitions.size).toBe(2);

    // The repartition topic has as many partitions as its writer's input and is keyed by merchant.
    expect(driver.partitionsOf('risk-by-merchant-repartition')).toBe(2);
    const repartitioned = driver.readRaw('risk-by-merchant-repartition');
    expect(repartitioned.map((r) => r.key!.toString())).toEqual(['shop', 'shop', 'cafe', 'shop']);
    const shopPartitions = new Set(repartitioned.filter((r) => r.key!.toString() === 'shop').map((r) => r.partition));
    expect(shopPartitions.size).toBe(1);

    expect(driver.createOutputTopic('merchant-totals-out', Serdes.String, Serdes.Double).readKeyValuesToMap()).toEqual(
      new Map([
        ['shop', 16],
        ['cafe', 3],
      ]),
    );
  });

  it('groupBy(new key) repartitions like selectKey + groupByKey; without a Grouped name the topic is named after the store', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('payments', Consumed.with(Serdes.String, paymentSerde))
      .groupBy((_tx, p) => p.card, { keySerde: Serdes.String })
      .count(Materialized.as('tx-per-card'));
    const topology = builder.build({ applicationId: 'risk' });
    expect(topology.internalTopics().map((t) => t.name)).toEqual(['risk-tx-per-card-repartition', 'risk-tx-per-card-changelog']);

    driver = await TopologyTestDriver.create(topology);
    const input = driver.createInputTopic('payments', Serdes.String, paymentSerde);
    await input.pipeInput('tx-1', { card: 'c1', merchant: 'm', amount: 1 }, 1);
    await input.pipeInput('tx-2', { card: 'c1', merchant: 'm', amount: 1 }, 2);
    await input.pipeInput('tx-3', { card: 'c2', merchant: 'm', amount: 1 }, 3);
    const store = driver.getKeyValueStore<string, number>('tx-per-card');
    expect([store.get('c1'), store.get('c2'), store.get('tx-1')]).toEqual([2, 1, undefined]);
  });

  it('groupByKey on an unchanged key does not repartition', () => {
    const builder = new StreamsBuilder();
    builder.stream('payments', Consumed.with(Serdes.String, Serdes.Long)).filter((_k, v) => v > 0).groupByKey().count(Materialized.as('n'));
    const topology = builder.build({ applicationId: 'risk' });
    expect(topology.subtopologies()).toHaveLength(1);
    expect(topology.internalTopics().map((t) => t.name)).toEqual(['risk-n-changelog']);
  });

  it('repartition() writes through an internal topic with a fixed partition count; null keys pass (KIP-962) and an aggregation downstream drops them', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', Consumed.with(Serdes.String, Serdes.String))
      .repartition(Repartitioned.as('spread', { numPartitions: 3 }))
      .mapValues((v) => v.toUpperCase())
      .to('out', Produced.with(Serdes.String, Serdes.String));
    const topology = builder.build({ applicationId: 'app' });
    expect(topology.internalTopics()).toEqual([
      { name: 'app-spread-repartition', kind: 'repartition', config: { 'cleanup.policy': 'delete', 'retention.ms': '-1' }, numPartitions: 3, subtopology: 1 },
    ]);
    driver = await TopologyTestDriver.create(topology);
    const input = driver.createInputTopic('in', Serdes.String, Serdes.String);
    await input.pipeInput('k1', 'a', 1);
    await input.pipeInput(null, 'b', 2);
    await input.pipeInput('k2', 'c', 3);
    expect(driver.streamTasks().map((t) => t.id)).toEqual(['0_0', '1_0', '1_1', '1_2']);
    expect(driver.createOutputTopic('out', Serdes.String, Serdes.String).readKeyValuesToList()).toEqual([
      { key: 'k1', value: 'A' },
      { key: null, value: 'B' },
      { key: 'k2', value: 'C' },
    ]);
    expect(driver.metrics().dropped['null-key'] ?? 0).toBe(0);
  });

  it('an aggregation after repartition() drops a null key once, at the aggregation', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', Consumed.with(Serdes.String, Serdes.String))
      .repartition(Repartitioned.as('spread', { numPartitions: 2 }))
      .groupByKey()
      .count(Materialized.as('n'))
      .toStream()
      .to('out', Produced.with(Serdes.String, Serdes.Long));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'app' }));
    const input = driver.createInputTopic('in', Serdes.String, Serdes.String);
    await input.pipeInput('k1', 'a', 1);
    await input.pipeInput(null, 'b', 2);
    expect(driver.createOutputTopic('out', Serdes.String, Serdes.Long).readKeyValuesToList()).toEqual([{ key: 'k1', value: 1 }]);
    expect(driver.metrics().dropped['null-key']).toBe(1);
  });
});
