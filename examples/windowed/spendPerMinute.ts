/**
 * A windowed aggregation on riskloop streams: the total spent per card and minute.
 *
 * Payments (JSON { card, amount, at }) keyed by card; event time is `at`. One-minute tumbling
 * windows with 30 s of grace; every update of a window's total goes to `output` with a windowed key
 * (Kafka Streams' layout: the card's bytes + the window start as int64), and the totals are kept in
 * the window store "spend-per-minute", which interactive queries read from the running instance.
 * Only the library's public entry point is imported.
 *
 *   npx tsx examples/windowed/spendPerMinute.ts localhost:9092 payments spend-per-minute
 */
import { Consumed, KafkaStreams, Materialized, Produced, Serdes, StreamsBuilder, TimeWindows, timeWindowedSerde, type Topology } from 'riskloop/streams';

export interface Payment {
  card: string;
  amount: number;
  /** Event time, epoch ms. */
  at: number;
}

export const MINUTE = 60_000;
export const paymentSerde = Serdes.Json<Payment>();
export const cardMinuteSerde = timeWindowedSerde(Serdes.String, MINUTE);

export function spendPerMinuteTopology(input: string, output: string, applicationId: string): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream(input, Consumed.with(Serdes.String, paymentSerde, { timestampExtractor: (r) => (r.value as Payment).at }))
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithGrace(MINUTE, 30_000))
    .aggregate(() => 0, (_card, p, total) => total + p.amount, Materialized.as<string, number>('spend-per-minute').withValueSerde(Serdes.Long))
    .toStream()
    .to(output, Produced.with(cardMinuteSerde, Serdes.Long));
  return builder.build({ applicationId });
}

export function startSpendPerMinute(brokers: string[], input: string, output: string, options: { applicationId?: string; stateDir?: string } = {}): KafkaStreams {
  const applicationId = options.applicationId ?? 'spend-per-minute';
  return new KafkaStreams(spendPerMinuteTopology(input, output, applicationId), {
    applicationId,
    brokers,
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [brokers = 'localhost:9092', input = 'payments', output = 'spend-per-minute'] = process.argv.slice(2);
  const streams = startSpendPerMinute(brokers.split(','), input, output);
  process.once('SIGINT', () => void streams.close());
  process.once('SIGTERM', () => void streams.close());
  await streams.start();
}
