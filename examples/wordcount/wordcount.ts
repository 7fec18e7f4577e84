/**
 * Word count, the "hello world" of Kafka Streams, on riskloop streams.
 *
 * Reads lines of text from `input`, splits them into lowercase words, counts each word and writes
 * every new count to `output` (key: the word, value: its count as an int64). Only the library's
 * public entry point is imported.
 *
 *   npx tsx examples/wordcount/wordcount.ts localhost:9092 lines word-counts
 */
import { Consumed, KafkaStreams, Materialized, Produced, Serdes, StreamsBuilder, type Topology } from 'riskloop/streams';

export function wordCountTopology(input: string, output: string, applicationId: string): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream(input, Consumed.with(Serdes.String, Serdes.String))
    .flatMapValues((line) => line.toLowerCase().split(/\W+/).filter((w) => w.length > 0))
    // The word becomes the key: the count below repartitions by it (<app>-counts-repartition).
    .groupBy((_key, word) => word, { keySerde: Serdes.String, valueSerde: Serdes.String, name: 'counts' })
    .count(Materialized.as('word-counts'))
    .toStream()
    .to(output, Produced.with(Serdes.String, Serdes.Long));
  return builder.build({ applicationId });
}

export function startWordCount(brokers: string[], input: string, output: string, options: { applicationId?: string; stateDir?: string } = {}): KafkaStreams {
  const applicationId = options.applicationId ?? 'wordcount';
  const streams = new KafkaStreams(wordCountTopology(input, output, applicationId), {
    applicationId,
    brokers,
    processingGuarantee: 'exactly_once',
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  });
  return streams;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [brokers = 'localhost:9092', input = 'lines', output = 'word-counts'] = process.argv.slice(2);
  const streams = startWordCount(brokers.split(','), input, output);
  process.once('SIGINT', () => void streams.close());
  process.once('SIGTERM', () => void streams.close());
  await streams.start();
}
