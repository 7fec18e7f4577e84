/** KTable.filter / filterNot / mapValues: Kafka Streams' KTableFilterTest and KTableMapValuesTest. */
import { afterEach, describe, expect, it } from 'vitest';
import { Consumed, Materialized, Produced, Serdes, StreamsBuilder, TopologyTestDriver } from '../../topology/index.js';
import { IntSerde, Str, expectOutput, pipeAll } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const even = (_k: string, v: number) => v % 2 === 0;

async function filterTables(materialize: boolean) {
  const builder = new StreamsBuilder();
  const t1 = builder.table('topic1', Consumed.with(Str, IntSerde));
  const t2 = materialize ? t1.filter(even, Materialized.as<string, number>('filtered')) : t1.filter(even);
  const t3 = materialize ? t1.filterNot(even, Materialized.as<string, number>('filtered-not')) : t1.filterNot(even);
  t2.toStream().to('out2', Produced.with(Str, IntSerde));
  t3.toStream().to('out3', Produced.with(Str, IntSerde));
  driver = await TopologyTestDriver.create(builder.build({ applicationId: 'ktable-filter' }));
  await pipeAll(driver.createInputTopic('topic1', Str, IntSerde), [['A', 1, 10], ['B', 2, 5], ['C', 3, 8], ['D', 4, 14], ['A', null, 18], ['B', null, 15]]);
  return { out2: driver.createOutputTopic('out2', Str, IntSerde), out3: driver.createOutputTopic('out3', Str, IntSerde) };
}

describe('KTable filter and mapValues (Kafka Streams conformance)', () => {
  for (const [method, materialize] of [['shouldPassThroughWithoutMaterialization', false], ['shouldPassThroughOnMaterialization', true]] as const) {
    it(`KTableFilterTest.${method} (doTestKTable)`, async () => {
      const o = await filterTables(materialize);
      expectOutput(o.out2, [['A', null, 10], ['B', 2, 5], ['C', null, 8], ['D', 4, 14], ['A', null, 18], ['B', null, 15]]);
      expectOutput(o.out3, [['A', 1, 10], ['B', null, 5], ['C', 3, 8], ['D', null, 14], ['A', null, 18], ['B', null, 15]]);
      if (materialize) {
        expect([...driver!.getKeyValueStore<string, number>('filtered').all()]).toEqual([{ key: 'D', value: 4 }]);
        expect([...driver!.getKeyValueStore<string, number>('filtered-not').all()]).toEqual([{ key: 'C', value: 3 }]);
      }
    });
  }

  it('KTableMapValuesTest.testKTable', async () => {
    const builder = new StreamsBuilder();
    builder
      .table('topic1', Consumed.with(Str, Str))
      .mapValues((v) => v.charCodeAt(0) - 48)
      .toStream()
      .to('output', Produced.with(Str, Serdes.Long));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'ktable-map' }));
    await pipeAll(driver.createInputTopic('topic1', Str, Str), [['A', '1', 5], ['B', '2', 25], ['C', '3', 20], ['D', '4', 10]]);
    expectOutput(driver.createOutputTopic('output', Str, Serdes.Long), [['A', 1, 5], ['B', 2, 25], ['C', 3, 20], ['D', 4, 10]]);
  });
});
