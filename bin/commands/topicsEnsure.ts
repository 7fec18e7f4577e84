/** Creates the catalogue topics for a config (the same code path as `riskloop topics create`). */
import type { AppConfig } from '../config.js';
import { topicsCreate, type CommandIo } from './topics.js';

export async function ensureTopics(
  config: Pick<AppConfig, 'brokers' | 'topicPrefix' | 'partitions'>,
  io: CommandIo,
  opts: { prefix?: string; keepHistory?: boolean } = {},
): Promise<void> {
  const prefix = opts.prefix ?? config.topicPrefix;
  const args = ['--brokers', config.brokers.join(','), '--prefix', prefix, '--partitions', String(config.partitions)];
  if (opts.keepHistory) args.push('--keep-history');
  const code = await topicsCreate(args, {
    ...io,
    // Per-topic lines are noise inside run/replay/demo; errors still go to stderr.
    out: () => undefined,
  });
  if (code !== 0) throw new Error(`creating topics with prefix "${prefix}" failed (exit ${code})`);
}
