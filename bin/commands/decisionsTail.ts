/** `riskloop decisions tail`: follow the decisions topic, pretty-printed and filterable. */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import { kafkajsConnectionOptions } from '../../topology/kafka/connection.js';
import type { Decision } from '../../schemas/types.js';
import { readClientConfig } from '../config.js';
import type { CommandIo } from './topics.js';
import { createRegistryClient } from '../../schemas/registryClient.js';

const { Kafka, logLevel } = kafkajs;

export function formatDecision(d: Decision): string {
  const score = d.score === null ? '  -  ' : d.score.toFixed(3);
  const when = new Date(d.eventTime).toISOString().replace('T', ' ').slice(0, 19);
  return `${when}  ${d.decision.padEnd(7)} ${score}  ${d.transactionId.padEnd(24)} ${(d.modelVersion ?? 'rules-only').padEnd(16)} ${d.reasonCodes.join(',')}`;
}

export async function decisionsTailCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      decision: { type: 'string' },
      reason: { type: 'string' },
      'from-beginning': { type: 'boolean' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out('usage: riskloop decisions tail [--decision APPROVE|REVIEW|DECLINE] [--reason CODE] [--from-beginning] [--limit N] [--json]');
    return 0;
  }
  const config = readClientConfig(io.env);
  const catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  const serdes = await createSerdes(createRegistryClient(config.registry), catalogue, { register: false });
  const limit = values.limit ? Number(values.limit) : Infinity;
  const consumer = new Kafka({ clientId: 'riskloop-tail', ...kafkajsConnectionOptions(config.kafka), logLevel: logLevel.NOTHING }).consumer({ groupId: `riskloop-tail-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: catalogue.decisions.name, fromBeginning: Boolean(values['from-beginning']) });
  let shown = 0;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    void consumer.run({
      eachBatch: async ({ batch }) => {
        const values_ = batch.messages.map((m) => m.value!).filter(Boolean);
        await serdes.decisions.prefetch?.(values_);
        for (const v of values_) {
          const d = serdes.decisions.deserialize(v);
          if (values.decision && d.decision !== values.decision) continue;
          if (values.reason && !d.reasonCodes.includes(values.reason)) continue;
          io.out(values.json ? JSON.stringify(d) : formatDecision(d));
          if (++shown >= limit) return resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return 0;
}
