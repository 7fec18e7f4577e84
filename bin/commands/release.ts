/** `riskloop release --card models/X.card.json --mode champion|shadow|canary:N|retired` (bin/modelRelease.ts). */
import { parseArgs } from 'node:util';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { parseReleaseMode } from '../../processors/modelRegistry.js';
import { readClientConfig } from '../config.js';
import { publishRelease, releaseFromCard } from '../modelRelease.js';
import type { CommandIo } from './topics.js';

export async function releaseCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { card: { type: 'string' }, mode: { type: 'string' }, by: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || !values.card || !values.mode) {
    io.out('usage: riskloop release --card models/<version>.card.json --mode champion|shadow|canary:<percent>|retired [--by NAME]');
    return values.help ? 0 : 2;
  }
  parseReleaseMode(values.mode);
  const config = readClientConfig(io.env);
  const catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  const serdes = await createSerdes(new SchemaRegistry({ host: config.schemaRegistryUrl }), catalogue);
  const client = createKafkajsClient({ connection: config.kafka, clientId: 'riskloop-release', logger: pino({ level: 'warn' }) });
  const producer = await client.producer();
  try {
    const release = await releaseFromCard(values.card, values.mode, values.by ? { releasedBy: values.by } : {});
    await publishRelease(producer, serdes.modelReleases, catalogue.modelReleases.name, release);
    io.out(`released ${release.version} as ${release.mode} on ${catalogue.modelReleases.name} (sha256 ${release.sha256.slice(0, 12)}…)`);
  } finally {
    await producer.disconnect();
  }
  return 0;
}
