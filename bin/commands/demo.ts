/** `riskloop demo` / `npm run demo`: the whole loop end to end on the local stack (bin/demo.ts). */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { runDemo } from '../demo.js';
import type { CommandIo } from './topics.js';

const DemoArgs = z.object({
  seed: z.coerce.number().int().min(0).default(7),
  customers: z.coerce.number().int().min(50).default(600),
  days: z.coerce.number().int().min(14).default(42),
  days2: z.coerce.number().int().min(2).default(14),
  fraudScale: z.coerce.number().min(0).default(2),
  keep: z.boolean().default(false),
});

export async function demoCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      customers: { type: 'string' },
      days: { type: 'string' },
      'days-after': { type: 'string' },
      'fraud-scale': { type: 'string' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out('usage: riskloop demo [--seed 7] [--customers 600] [--days 42] [--days-after 14] [--fraud-scale 2] [--keep]');
    io.out('Starts the local stack if KAFKA_BROKERS is unset, then simulates, decides, labels, retrains and rolls out.');
    return 0;
  }
  const opts = DemoArgs.parse({ seed: values.seed, customers: values.customers, days: values.days, days2: values['days-after'], fraudScale: values['fraud-scale'], keep: values.keep });
  return runDemo(opts, io);
}
