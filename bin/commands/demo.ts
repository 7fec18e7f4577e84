/** `riskloop demo` / `npm run demo`: the whole loop end to end on the local stack (bin/demo.ts). */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { runDemo, type DemoOptions } from '../demo.js';
import type { CommandIo } from './topics.js';

const DemoArgs = z.object({
  seed: z.coerce.number().int().min(0).default(7),
  customers: z.coerce.number().int().min(50).default(600),
  days: z.coerce.number().int().min(14).default(42),
  days2: z.coerce.number().int().min(2).default(14),
  fraudScale: z.coerce.number().min(0).default(2),
  keep: z.boolean().default(false),
  generator: z.enum(['sim', 'handbook']).default('sim'),
  labelMaturityDays: z.coerce.number().positive().optional(),
  labelDelayDays: z.coerce.number().min(0).optional(),
  featureSet: z.string().min(1).optional(),
  shadowCards: z.array(z.string().min(1)).default([]),
  trainerArgs: z.array(z.string()).default([]),
  report: z.string().min(1).optional(),
  keepExports: z.string().min(1).optional(),
});

export const DEMO_USAGE = [
  'usage: riskloop demo [--generator sim|handbook] [--seed 7] [--customers 600] [--days 42] [--days-after 14] [--fraud-scale 2] [--keep]',
  '                     [--label-maturity-days D] [--label-delay-days D] [--feature-set FILE] [--shadow CARD.json ...]',
  '                     [--trainer "--folds 4 ..."] [--report FILE.json] [--keep-exports DIR]',
  'Starts the local stack if KAFKA_BROKERS is unset, then generates traffic, decides and labels; the retraining service (riskloop retrain) then retrains, gates and rolls out by itself.',
  '  --generator handbook      traffic from generators/handbook (Fraud Detection Handbook simulator + card testing)',
  '                            instead of simulator/; label maturity then defaults to 14 days (chargebacks come in ~7)',
  '  --label-maturity-days D   label join maturity (default $RISKLOOP_LABEL_MATURITY_DAYS, else 60; 14 with handbook)',
  '  --label-delay-days D      how late a label may be processed (default $RISKLOOP_LABEL_DELAY_DAYS, else 0)',
  '  --feature-set FILE        feature-set declaration (default $RISKLOOP_FEATURE_SET_FILE)',
  '  --shadow CARD.json        release this model as shadow before phase 1 (repeatable): its AUC on the traffic is reported',
  '  --trainer "ARGS"          trainer options for the retraining service policy (retrain.trainer), e.g. "--folds 4 --search-budget 10"',
  '  --report FILE.json        write the outcomes and the trainer\'s per-fold figures as JSON',
  '  --keep-exports DIR        keep the candidate\'s training export there (riskloop retrain --keep-exports), to train on it again offline',
];

/** The command line as DemoOptions (exported for its unit test). */
export function parseDemoArgs(argv: string[]): DemoOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      customers: { type: 'string' },
      days: { type: 'string' },
      'days-after': { type: 'string' },
      'fraud-scale': { type: 'string' },
      keep: { type: 'boolean' },
      generator: { type: 'string' },
      'label-maturity-days': { type: 'string' },
      'label-delay-days': { type: 'string' },
      'feature-set': { type: 'string' },
      shadow: { type: 'string', multiple: true },
      trainer: { type: 'string' },
      report: { type: 'string' },
      'keep-exports': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  return DemoArgs.parse({
    seed: values.seed,
    customers: values.customers,
    days: values.days,
    days2: values['days-after'],
    fraudScale: values['fraud-scale'],
    keep: values.keep,
    generator: values.generator,
    labelMaturityDays: values['label-maturity-days'],
    labelDelayDays: values['label-delay-days'],
    featureSet: values['feature-set'],
    shadowCards: values.shadow,
    trainerArgs: values.trainer?.split(/\s+/).filter(Boolean),
    report: values.report,
    keepExports: values['keep-exports'],
  });
}

export async function demoCommand(argv: string[], io: CommandIo): Promise<number> {
  const opts = parseDemoArgs(argv);
  if (opts === 'help') {
    DEMO_USAGE.forEach((l) => io.out(l));
    return 0;
  }
  return runDemo(opts, io);
}
