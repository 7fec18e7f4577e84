/** topology.describe() output, and names that stay the same when a topology is built again. */
import { describe, expect, it } from 'vitest';
import { Consumed, Grouped, JoinWindows, Materialized, Named, Produced, Serdes, StreamsBuilder, TimeWindows } from '../../../topology/index.js';

function smallTopology(builder: StreamsBuilder) {
  builder
    .stream('payments', Consumed.with(Serdes.String, Serdes.Long, { name: 'payments-in' }))
    .filter((_k, v) => v > 0, Named.as('positive'))
    .selectKey((k) => k.split(':')[0]!, Named.as('by-card'))
    .groupByKey(Grouped.with(Serdes.String, Serdes.Long, 'card'))
    .count(Materialized.as('tx-count'), Named.as('count'))
    .toStream(Named.as('count-stream'))
    .to('counts', Produced.with(Serdes.String, Serdes.Long, 'counts-out'));
  builder.globalTable('merchants', Consumed.with(Serdes.String, Serdes.String, { name: 'merchants-in' }), Materialized.as('merchants'));
  return builder;
}

describe('topology.describe()', () => {
  it('prints sub-topologies, sources, processors with stores, sinks and global stores like Kafka Streams', () => {
    const text = smallTopology(new StreamsBuilder()).build({ applicationId: 'app' }).describe().toString();
    expect(text.split('\n')).toEqual([
      'Topologies:',
      '   Sub-topology: 0',
      '    Source: payments-in (topics: [payments])',
      '      --> positive',
      '    Processor: positive (stores: [])',
      '      --> by-card',
      '      <-- payments-in',
      '    Processor: by-card (stores: [])',
      '      --> card-repartition-filter',
      '      <-- positive',
      '    Processor: card-repartition-filter (stores: [])',
      '      --> card-repartition-sink',
      '      <-- by-card',
      '    Sink: card-repartition-sink (topic: app-card-repartition)',
      '      <-- card-repartition-filter',
      '',
      '  Sub-topology: 1',
      '    Source: card-repartition-source (topics: [app-card-repartition])',
      '      --> count',
      '    Processor: count (stores: [tx-count])',
      '      --> count-stream',
      '      <-- card-repartition-source',
      '    Processor: count-stream (stores: [])',
      '      --> counts-out',
      '      <-- count',
      '    Sink: counts-out (topic: counts)',
      '      <-- count-stream',
      '',
      '  Sub-topology: 2 for global store (will not generate tasks)',
      '    Source: merchants-in (topics: [merchants])',
      '      --> KTABLE-SOURCE-0000000000',
      '    Processor: KTABLE-SOURCE-0000000000 (stores: [merchants])',
      '      --> none',
      '      <-- merchants-in',
      '',
      '',
    ]);
  });

  it('lists nodes by subtree size, then name, and shows fan-out and fan-in', () => {
    const builder = new StreamsBuilder();
    const source = builder.stream(['a', 'b'], Consumed.with(Serdes.String, Serdes.String));
    source.to('copy');
    const upper = source.mapValues((v) => v.toUpperCase());
    upper.merge(source).to('merged', Produced.with(Serdes.String, Serdes.String));
    const lines = builder.build().describe().toString().split('\n');
    expect(lines).toEqual([
      'Topologies:',
      '   Sub-topology: 0',
      '    Source: KSTREAM-SOURCE-0000000000 (topics: [a, b])',
      '      --> KSTREAM-MAPVALUES-0000000002, KSTREAM-MERGE-0000000003, KSTREAM-SINK-0000000001',
      '    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])',
      '      --> KSTREAM-MERGE-0000000003',
      '      <-- KSTREAM-SOURCE-0000000000',
      '    Processor: KSTREAM-MERGE-0000000003 (stores: [])',
      '      --> KSTREAM-SINK-0000000004',
      // The source's subtree is larger than the mapper's, so it is listed first.
      '      <-- KSTREAM-SOURCE-0000000000, KSTREAM-MAPVALUES-0000000002',
      '    Sink: KSTREAM-SINK-0000000001 (topic: copy)',
      '      <-- KSTREAM-SOURCE-0000000000',
      '    Sink: KSTREAM-SINK-0000000004 (topic: merged)',
      '      <-- KSTREAM-MERGE-0000000003',
      '',
      '',
    ]);
  });
});

describe('stable names', () => {
  /** A topology using generated names everywhere: aggregation, windows, joins. */
  function generated(builder: StreamsBuilder) {
    const tx = builder.stream('tx', Consumed.with(Serdes.String, Serdes.Long));
    tx.groupBy((k) => k.slice(0, 4), { keySerde: Serdes.String }).count();
    tx.groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(60_000)).count();
    tx.join(builder.stream('auth', Consumed.with(Serdes.String, Serdes.Long)), (a, b) => a + b, JoinWindows.ofTimeDifferenceWithNoGrace(1_000)).to('joined', Produced.with(Serdes.String, Serdes.Long));
    return builder;
  }

  it('the same code builds the same processor, store and internal topic names', () => {
    const first = generated(new StreamsBuilder()).build({ applicationId: 'risk' });
    const second = generated(new StreamsBuilder()).build({ applicationId: 'risk' });
    expect(second.describe().toString()).toBe(first.describe().toString());
    expect(second.internalTopics()).toEqual(first.internalTopics());
    // Repartition topics first, then changelogs by sub-topology: the windowed count and the join
    // share sub-topology 0 with the source; the re-keyed count is in sub-topology 1.
    expect(first.internalTopics().map((t) => t.name)).toEqual([
      'risk-KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition',
      'risk-KSTREAM-AGGREGATE-STATE-STORE-0000000004-changelog',
      'risk-KSTREAM-JOINTHIS-0000000009-store-changelog',
      'risk-KSTREAM-JOINOTHER-0000000010-store-changelog',
      'risk-KSTREAM-AGGREGATE-STATE-STORE-0000000002-changelog',
    ]);
  });

  it('building one builder twice gives the same topology; internal names follow the application id', () => {
    const builder = smallTopology(new StreamsBuilder());
    expect(builder.build({ applicationId: 'a' }).describe().toString()).toBe(builder.build({ applicationId: 'a' }).describe().toString());
    const topology = builder.build({ applicationId: 'fraud-v2' });
    expect(topology.internalTopics().map((t) => t.name)).toEqual(['fraud-v2-card-repartition', 'fraud-v2-tx-count-changelog']);
    expect(topology.changelogTopicFor('tx-count')).toBe('fraud-v2-tx-count-changelog');
    // Global stores are restored from their own topic: no changelog.
    expect(topology.changelogTopicFor('merchants')).toBeUndefined();
  });
});
