/** Creates the catalogue topics for a config (the same code path as `riskloop topics create`). */
import type { AppConfig } from '../config.js';
import { topicsCreate, type CommandIo } from './topics.js';

export async function ensureTopics(config: Pick<AppConfig, 'brokers' | 'topicPrefix' | 'partitions'>, io: CommandIo, prefix = config.topicPrefix): Promise<void> {
  const code = await topicsCreate(['--brokers', config.brokers.join(','), '--prefix', prefix, '--partitions', String(config.partitions)], {
    ...io,
    // Per-topic lines are noise inside run/replay/demo; errors still go to stderr.
    out: () => undefined,
  });
  if (code !== 0) throw new Error(`creating topics with prefix "${prefix}" failed (exit ${code})`);
}
