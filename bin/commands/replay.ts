/** `riskloop replay --from T --to T`: reprocess a time range into a fresh application id (bin/replay.ts). */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { AuditLog, auditTopicName, cliPrincipal, ensureAuditTopic } from '../../ops/auditEvents.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { LOOP_FLAG_OPTIONS, LOOP_FLAG_USAGE, loopFlagValues, readAppConfig } from '../config.js';
import { replayRange } from '../replay.js';
import type { CommandIo } from './topics.js';

/** `--feature-set FILE` is RISKLOOP_FEATURE_SET_FILE for this process (bin/config.ts reads it with the rest). */
export function withFeatureSetFlag(env: CommandIo['env'], file: string | undefined): CommandIo['env'] {
  return file === undefined ? env : { ...env, RISKLOOP_FEATURE_SET_FILE: file };
}

function parseTime(v: string | undefined, name: string): number {
  if (v === undefined) throw new Error(`--${name} is required (ISO date-time or epoch ms)`);
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new Error(`--${name}: cannot read "${v}" as a time`);
  return n;
}

function bar(done: number, total: number, elapsedMs: number): string {
  const share = total > 0 ? Math.min(1, done / total) : 0;
  const width = 30;
  const filled = Math.round(share * width);
  const eta = share > 0 ? ((elapsedMs / share - elapsedMs) / 1000).toFixed(0) : '?';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(1)}% ${done}/${total} ETA ${eta}s`;
}

export async function replayCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: 'string' }, to: { type: 'string' }, id: { type: 'string' }, 'feature-set': { type: 'string' }, ...LOOP_FLAG_OPTIONS, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.out('usage: riskloop replay --from <ISO|ms> --to <ISO|ms> [--id NAME] [--feature-set FILE] [--label-maturity-days D] [--label-delay-days D]');
    io.out('Copies the range (and the KYC/device/model context before it, labels after it) under the prefix');
    io.out('<prefix>replay-<id>. and runs the loop on it as application <app-id>-replay-<id> until caught up:');
    io.out('first the cross-entity side sub-topologies to the end (application <app-id>-replay-<id>-side, the');
    io.out('device / IP / merchant table), then the hot path on that table.');
    io.out('  --feature-set FILE        the feature-set declaration (default $RISKLOOP_FEATURE_SET_FILE, else features/default.json)');
    LOOP_FLAG_USAGE.forEach((l) => io.out(l));
    return 0;
  }
  const config = readAppConfig(withFeatureSetFlag(io.env, values['feature-set']), loopFlagValues(values));
  const logger = pino({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
  // A replay reprocesses history under another application id: a privileged action, audited.
  const auditTopic = auditTopicName(config.topicPrefix);
  const auditClient = createKafkajsClient({ connection: config.kafka, clientId: 'riskloop-replay-audit', logger });
  const admin = await auditClient.admin();
  try {
    await ensureAuditTopic(admin, auditTopic);
  } finally {
    await admin.disconnect();
  }
  const auditProducer = await auditClient.producer();
  const audit = new AuditLog(auditProducer, auditTopic, { ...cliPrincipal(config.kafka), source: 'cli' });
  const result = await replayRange(
    config,
    {
      fromMs: parseTime(values.from, 'from'),
      toMs: parseTime(values.to, 'to'),
      ...(values.id ? { replayId: values.id } : {}),
      audit,
      onProgress: (p) => {
        if (p.phase === 'copy') process.stderr.write(`\rcopying: ${p.done} records`);
        else if (p.phase === 'side') process.stderr.write(`\rside tables: ${p.done} records processed   `);
        else process.stderr.write(`\rprocessing ${bar(p.done, p.total, p.elapsedMs)}   `);
      },
    },
    logger,
    io,
  ).finally(() => auditProducer.disconnect());
  process.stderr.write('\n');
  io.out(`replay ${result.replayId}: copied ${JSON.stringify(result.copied)}, side ${result.sideProcessed}, processed ${result.processed} in ${(result.ms / 1000).toFixed(1)} s`);
  io.out(`decisions: ${result.topicPrefix}decisions (application ${result.applicationId})`);
  return 0;
}
