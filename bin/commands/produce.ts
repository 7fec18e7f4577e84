/**
 * `riskloop produce --from-dir DIR`: publish records to the loop's ingress topics from JSONL files
 * (one `{"key","timestamp","value"}` per line, the layout `riskloop simulate --out-dir` writes:
 * transactions.jsonl, kyc.jsonl, device-signals.jsonl, chargebacks.jsonl, analyst-outcomes.jsonl),
 * Avro-encoded through the registry, merged in timestamp order, as fast as possible or at --rate.
 * For a generator instead of files, `riskloop simulate --kafka` produces directly.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { SIMULATED_TOPICS, type SimulatedRecords } from '../../simulator/simulate.js';
import { TOPIC_FILES } from '../../simulator/sinks/files.js';
import { produceSimulation } from '../../simulator/sinks/kafka.js';
import { readClientConfig } from '../config.js';
import type { CommandIo } from './topics.js';

export async function produceCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'from-dir': { type: 'string' }, rate: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || !values['from-dir']) {
    io.out('usage: riskloop produce --from-dir DIR [--rate RECORDS_PER_SECOND]');
    io.out(`reads ${Object.values(TOPIC_FILES).join(', ')} (those present) and publishes them to the catalogue topics`);
    return values.help ? 0 : 2;
  }
  const dir = values['from-dir'];
  const config = readClientConfig(io.env);
  const records = Object.fromEntries(SIMULATED_TOPICS.map((t) => [t, []])) as unknown as SimulatedRecords;
  for (const topic of SIMULATED_TOPICS) {
    const file = path.join(dir, TOPIC_FILES[topic]);
    if (!existsSync(file)) continue;
    const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim());
    (records as unknown as Record<string, unknown[]>)[topic] = lines.map((l, i) => {
      const r = JSON.parse(l) as { key?: unknown; timestamp?: unknown; value?: unknown };
      if (typeof r.key !== 'string' || typeof r.timestamp !== 'number' || typeof r.value !== 'object') {
        // Line number only: the line itself may hold a PAN.
        throw new Error(`${file}:${i + 1}: expected {"key": string, "timestamp": number, "value": {...}}`);
      }
      return r;
    });
  }
  const report = await produceSimulation(records, {
    brokers: config.brokers,
    connection: config.kafka,
    registryUrl: config.schemaRegistryUrl,
    registry: config.registry,
    catalogue: buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions }),
    ratePerSecond: values.rate ? Number(values.rate) : null,
    clientId: 'riskloop-produce',
  });
  io.out(`produced ${JSON.stringify(report.produced)} in ${(report.elapsedMs / 1000).toFixed(1)} s`);
  const held = Object.values(report.heldBack).reduce((a, b) => a + b, 0);
  if (held) io.err(`held back ${held} records timestamped beyond the broker's future limit: ${JSON.stringify(report.heldBack)}`);
  return 0;
}
