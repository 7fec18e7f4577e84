/**
 * `riskloop release --card models/X.card.json --mode champion|shadow|canary:N|retired` (bin/modelRelease.ts).
 * The release and its audit event (model.release, ops/auditEvents.ts) are written in one Kafka
 * transaction: no release goes unaudited, and no event claims a release that was not published.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { AuditLog, auditTopicName, cliPrincipal, ensureAuditTopic } from '../../ops/auditEvents.js';
import pino from 'pino';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { parseReleaseMode } from '../../processors/modelRegistry.js';
import { readClientConfig } from '../config.js';
import { releaseSizeCheck } from '../../lifecycle/gates.js';
import { publishRelease, releaseFromCard, releaseSize } from '../modelRelease.js';
import type { CommandIo } from './topics.js';
import { createRegistryClient } from '../../schemas/registryClient.js';

export async function releaseCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { card: { type: 'string' }, mode: { type: 'string' }, by: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || !values.card || !values.mode) {
    io.out('usage: riskloop release --card models/<version>.card.json --mode champion|shadow|canary:<percent>|retired [--by NAME]');
    return values.help ? 0 : 2;
  }
  parseReleaseMode(values.mode);
  const config = readClientConfig(io.env);
  const catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  const serdes = await createSerdes(createRegistryClient(config.registry), catalogue);
  const client = createKafkajsClient({ connection: config.kafka, clientId: 'riskloop-release', logger: pino({ level: 'warn' }) });
  const who = cliPrincipal(config.kafka);
  const auditTopic = auditTopicName(config.topicPrefix);
  const admin = await client.admin();
  try {
    await ensureAuditTopic(admin, auditTopic);
  } finally {
    await admin.disconnect();
  }
  const release = await releaseFromCard(values.card, values.mode, { releasedBy: values.by ?? who.principal });
  // Refused here with the sizes rather than by the broker's RECORD_TOO_LARGE mid-transaction.
  const size = releaseSizeCheck(await releaseSize(client, serdes.modelReleases, catalogue.modelReleases.name, release));
  if (!size.passed) {
    io.err(`riskloop release: ${release.version} not released: ${size.detail}`);
    return 1;
  }
  const details = { mode: release.mode, sha256: release.sha256, releasedBy: release.releasedBy, topic: catalogue.modelReleases.name };
  const producer = client.transactionalProducer(`riskloop-release-${randomUUID()}`);
  await producer.connect();
  try {
    await producer.begin();
    await publishRelease(producer, serdes.modelReleases, catalogue.modelReleases.name, release);
    await new AuditLog(producer, auditTopic, { ...who, source: 'cli' }).record({ action: 'model.release', target: release.version, outcome: 'ok', details });
    await producer.commit();
    io.out(`released ${release.version} as ${release.mode} on ${catalogue.modelReleases.name} (sha256 ${release.sha256.slice(0, 12)}…)`);
  } catch (err) {
    if (producer.inTransaction) await producer.abort().catch(() => undefined);
    // The attempt is recorded too, best effort, outside the aborted transaction.
    const plain = await client.producer().catch(() => undefined);
    if (plain) {
      await new AuditLog(plain, auditTopic, { ...who, source: 'cli' })
        .record({ action: 'model.release', target: release.version, outcome: 'failed', details: { ...details, error: (err as Error).name } })
        .catch(() => undefined);
      await plain.disconnect().catch(() => undefined);
    }
    throw err;
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  return 0;
}
