/**
 * The topology of streamsOperatorsRestore.test.ts: every stateful operator added for issue 19 —
 * stream–stream outer join, table–table join, table aggregation with a subtractor, suppress, session
 * windows, foreign-key join — on topics <app>-…. Run as a child process (SIGKILL tests):
 *   node --import tsx test/integration/apps/operators.ts   (APP_ID, KAFKA_BROKERS, STATE_DIR, BASE from env)
 */
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { z } from 'zod';
import { Consumed, JoinWindows, KafkaStreams, Materialized, Named, Produced, Serdes, SessionWindows, StreamsBuilder, Suppressed, TimeWindows, type Topology, type Windowed } from '../../../topology/streams.js';

const Str = Serdes.String;

/** `base`: the event-time origin of the test's records (session keys are printed relative to it). */
export function operatorsTopology(app: string, BASE: number): Topology {

  const t = (n: string) => `${app}-${n}`;
  const b = new StreamsBuilder();
  const left = b.stream(t('left'), Consumed.with(Str, Str));
  const right = b.stream(t('right'), Consumed.with(Str, Str));
  left.outerJoin(right, (l, r) => `${l}+${r}`, JoinWindows.ofTimeDifferenceAndGrace(1000, 0), { name: 'lr' }).to(t('joined'), Produced.with(Str, Str));

  const a = b.table(t('a'), Consumed.with(Str, Str));
  const bt = b.table(t('b'), Consumed.with(Str, Str));
  a.join(bt, (x, y) => `${x}+${y}`, Materialized.as<string, string>('ab').withKeySerde(Str).withValueSerde(Str)).toStream().to(t('ab-out'), Produced.with(Str, Str));
  a.groupBy((_k, v) => ({ key: v, value: v }), { keySerde: Str, valueSerde: Str, name: 'by-group' }).count().toStream().to(t('group-counts'), Produced.with(Str, Serdes.Long));

  b.stream(t('clicks'), Consumed.with(Str, Str))
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithGrace(10_000, 0))
    .count()
    .suppress(Suppressed.untilWindowCloses({ name: 'final' }))
    .toStream()
    .map((k: Windowed<string>, v) => ({ key: `${k.key}@${k.window.start}`, value: v }))
    .to(t('final-clicks'), Produced.with(Str, Serdes.Long));

  b.stream(t('visits'), Consumed.with(Str, Str))
    .groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(5_000))
    .count()
    .toStream()
    .map((k: Windowed<string>, v) => ({ key: `${k.key}@${k.window.start - BASE}..${k.window.end - BASE}`, value: v === null ? null : String(v) }))
    .to(t('sessions'), Produced.with(Str, Str));

  // Foreign-key join: orders (value = customer id) with customers.
  const customers = b.table(t('customers'), Consumed.with(Str, Str), Materialized.as('customer-rows'));
  b.table(t('orders'), Consumed.with(Str, Str), Materialized.as('order-rows'))
    .join(customers, (customerId) => customerId, (customerId, name) => `${customerId}/${name}`, Materialized.as<string, string>('order-customers').withValueSerde(Str), Named.as('order-customer'))
    .toStream()
    .to(t('fk-out'), Produced.with(Str, Str));
  return b.build({ applicationId: app });
}

const Env = z.object({ APP_ID: z.string(), KAFKA_BROKERS: z.string(), STATE_DIR: z.string(), BASE: z.coerce.number() });

async function main(): Promise<void> {
  const env = Env.parse(process.env);
  const streams = new KafkaStreams(
    operatorsTopology(env.APP_ID, env.BASE),
    { applicationId: env.APP_ID, brokers: env.KAFKA_BROKERS.split(','), processingGuarantee: 'exactly_once', stateDir: env.STATE_DIR },
    { logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }) },
  );
  streams.on('stateChange', (s: string) => process.stdout.write(`STATE ${s}\n`));
  streams.on('error', () => process.exit(2));
  const stop = (): void => {
    void streams.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await streams.start();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    process.stderr.write(`operators app failed: ${(err as Error).stack}\n`);
    process.exit(1);
  });
}
