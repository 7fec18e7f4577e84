/**
 * Example: how much each card spends per hour.
 *
 * Payments arrive keyed by transaction id, with the card and the event time inside the payload.
 * We want, for every card and every clock hour, the total spent — updated as payments come in,
 * tolerating payments that arrive up to 10 minutes after their hour ended, and keeping a record of
 * the ones that come later than that instead of silently losing them.
 *
 * Reading guide:
 *   1. event time comes from the payload (a timestamp extractor), not from when Kafka got it;
 *   2. `groupBy(card)` re-keys the stream, so records go through an internal repartition topic
 *      (riskloop-card-spend-by-card-repartition) and each card is totalled by exactly one task;
 *   3. tumbling windows of one hour with 10 minutes of grace;
 *   4. every update is emitted downstream (a running total); the store holds the current totals.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  Consumed,
  Materialized,
  Produced,
  Serdes,
  StreamsBuilder,
  TimeWindows,
  type Topology,
  TopologyTestDriver,
  type ValueAndTimestamp,
  timeWindowedSerde,
} from '../../topology/index.js';

interface Payment {
  card: string;
  amountCents: number;
  /** When the card was used, epoch ms. */
  eventTime: number;
}

const HOUR = 3_600_000;
const MINUTE = 60_000;
const paymentSerde = Serdes.Json<Payment>();
/** Output keys: the card and the hour, in Kafka Streams' windowed-key layout (card bytes + hour start). */
const cardHourSerde = timeWindowedSerde(Serdes.String, HOUR);

function cardSpendPerHour(): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream(
      'payments',
      Consumed.with(Serdes.String, paymentSerde, {
        // (1) Event time is when the card was used.
        timestampExtractor: (record) => (record.value as Payment).eventTime,
      }),
    )
    // (2) Re-key by card: the aggregation below repartitions by it.
    .groupBy((_txId, payment) => payment.card, { keySerde: Serdes.String, name: 'card-spend-by-card' })
    // (3) One-hour tumbling windows; a window accepts payments until 10 minutes after it ends.
    .windowedBy(TimeWindows.ofSizeWithGrace(HOUR, 10 * MINUTE))
    .withLateRecordsTo('card-spend-late')
    // (4) The running total per card and hour, kept in the store "card-spend-per-hour".
    .aggregate(
      () => 0,
      (_card, payment, total) => total + payment.amountCents,
      Materialized.as<string, number>('card-spend-per-hour').withValueSerde(Serdes.Long),
    )
    .toStream()
    .to('card-spend-hourly', Produced.with(cardHourSerde, Serdes.Long));
  return builder.build({ applicationId: 'riskloop' });
}

describe('example: per-card spend per hour', () => {
  let driver: TopologyTestDriver;
  afterEach(async () => driver.close());

  const nine = Date.UTC(2026, 0, 15, 9, 0, 0);
  const ten = nine + HOUR;

  it('totals each card per clock hour, with 10 minutes of grace for stragglers', async () => {
    driver = await TopologyTestDriver.create(cardSpendPerHour());
    const payments = driver.createInputTopic('payments', Serdes.String, paymentSerde);
    const hourly = driver.createOutputTopic('card-spend-hourly', cardHourSerde, Serdes.Long);
    const pay = (txId: string, card: string, amountCents: number, eventTime: number) => payments.pipeInput(txId, { card, amountCents, eventTime });
    /** The output as "card hh:mm total" lines. */
    const updates = () =>
      hourly.readRecordsToList().map((r) => `${r.key!.key} ${new Date(r.key!.window.start).toISOString().slice(11, 16)} ${r.value}`);

    await pay('tx-1', 'card-A', 1_250, nine + 5 * MINUTE);
    await pay('tx-2', 'card-A', 3_000, nine + 40 * MINUTE);
    await pay('tx-3', 'card-B', 500, ten - 1); // the last millisecond of the 09:00 hour
    await pay('tx-4', 'card-A', 700, ten); // exactly 10:00 belongs to the 10:00 hour
    expect(updates()).toEqual(['card-A 09:00 1250', 'card-A 09:00 4250', 'card-B 09:00 500', 'card-A 10:00 700']);

    // A payment made at 09:55 that reaches us after 10:00: the 09:00 hour is still open (grace).
    await pay('tx-5', 'card-A', 100, nine + 55 * MINUTE);
    expect(updates()).toEqual(['card-A 09:00 4350']);

    // Once event time reaches 10:10, the 09:00 hour is closed for good...
    await pay('tx-6', 'card-B', 200, ten + 10 * MINUTE);
    expect(updates()).toEqual(['card-B 10:00 200']);
    // ...and a 09:50 payment arriving now is late: not counted, but kept on the late topic.
    await pay('tx-7', 'card-A', 9_999, nine + 50 * MINUTE);
    expect(updates()).toEqual([]);
    const late = driver.createOutputTopic('card-spend-late', Serdes.String, paymentSerde).readKeyValuesToList();
    expect(late).toEqual([{ key: 'card-A', value: { card: 'card-A', amountCents: 9_999, eventTime: nine + 50 * MINUTE } }]);
    expect(driver.metrics().dropped.late).toBe(1);

    // The current totals can be read from the store, by card and hour start.
    const store = driver.getWindowStore<string, ValueAndTimestamp<number>>('card-spend-per-hour');
    expect(store.fetch('card-A', nine)?.value).toBe(4_350);
    expect(store.fetch('card-A', ten)?.value).toBe(700);
    expect(store.fetch('card-B', ten)?.value).toBe(200);
  });

  it('uses stable internal names derived from the application id and the operator names', () => {
    const topology = cardSpendPerHour();
    expect(topology.internalTopics().map((t) => t.name)).toEqual([
      'riskloop-card-spend-by-card-repartition',
      'riskloop-card-spend-per-hour-changelog',
    ]);
    expect(topology.subtopologies().map((s) => s.sourceTopics)).toEqual([['payments'], ['riskloop-card-spend-by-card-repartition']]);
  });
});
