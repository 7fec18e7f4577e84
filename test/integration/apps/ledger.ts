/**
 * A small stateful app for the runtime's integration tests: per account, a running sum and count
 * of amounts in a logged store; every input record yields one output record carrying the input id
 * and the account's totals after it. With exactly-once, the output holds each id once and the last
 * totals per account equal the sums of the input; anything lost or doubled shows.
 *
 * Run as a child process: node --import tsx test/integration/apps/ledger.ts (config from env).
 */
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { z } from 'zod';
import { Stores } from '../../../state/stores.js';
import type { KeyValueStore } from '../../../state/types.js';
import { KafkaStreams } from '../../../topology/kafka/kafkaStreams.js';
import type { Processor, ProcessorContext } from '../../../topology/processor.js';
import type { Record } from '../../../topology/records.js';
import { Serdes } from '../../../topology/serde.js';
import { Topology } from '../../../topology/topology.js';

export interface LedgerIn {
  id: number;
  amount: number;
}
export interface LedgerOut {
  id: number;
  account: string;
  sum: number;
  count: number;
}
interface Totals {
  sum: number;
  count: number;
}

class LedgerProcessor implements Processor<string, LedgerIn, string, LedgerOut> {
  private ctx!: ProcessorContext<string, LedgerOut>;
  private totals!: KeyValueStore<string, Totals>;

  init(ctx: ProcessorContext<string, LedgerOut>): void {
    this.ctx = ctx;
    this.totals = ctx.getStateStore('totals');
  }

  process(r: Record<string, LedgerIn>): void {
    const t = this.totals.get(r.key) ?? { sum: 0, count: 0 };
    const next = { sum: t.sum + r.value.amount, count: t.count + 1 };
    this.totals.put(r.key, next);
    this.ctx.forward({ ...r, value: { id: r.value.id, account: r.key, ...next } });
  }
}

export function ledgerTopology(applicationId: string, input: string, output: string): Topology {
  return new Topology({ applicationId })
    .addSource('ledger-source', input, { keySerde: Serdes.String, valueSerde: Serdes.Json<LedgerIn>() })
    .addProcessor('ledger', () => new LedgerProcessor(), 'ledger-source')
    .addStateStore(Stores.keyValue('totals', Serdes.String, Serdes.Json<Totals>()), ['ledger'])
    .addSink('ledger-sink', output, { keySerde: Serdes.String, valueSerde: Serdes.Json<LedgerOut>() }, 'ledger');
}

const Env = z.object({
  APP_ID: z.string(),
  KAFKA_BROKERS: z.string(),
  INPUT: z.string(),
  OUTPUT: z.string(),
  GUARANTEE: z.enum(['at_least_once', 'exactly_once']),
  STATE_DIR: z.string(),
  INSTANCE_ID: z.string().optional(),
  COMMIT_MS: z.coerce.number().optional(),
});

async function main(): Promise<void> {
  const env = Env.parse(process.env);
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
  const streams = new KafkaStreams(
    ledgerTopology(env.APP_ID, env.INPUT, env.OUTPUT),
    {
      applicationId: env.APP_ID,
      brokers: env.KAFKA_BROKERS.split(','),
      processingGuarantee: env.GUARANTEE,
      stateDir: env.STATE_DIR,
      ...(env.INSTANCE_ID ? { instanceId: env.INSTANCE_ID } : {}),
      ...(env.COMMIT_MS ? { commitIntervalMs: env.COMMIT_MS } : {}),
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
    },
    { logger },
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
    process.stderr.write(`ledger app failed: ${(err as Error).stack}\n`);
    process.exit(1);
  });
}
