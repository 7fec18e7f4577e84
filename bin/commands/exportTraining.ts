/**
 * The training-examples topic as JSON Lines, the trainer's input (training/train.py).
 *
 * Reads every partition from its first offset to the end offset it had when the export started
 * (read_committed: examples of aborted transactions are not training data), decodes each value with
 * the topic's Avro serde through the schema registry, and writes one TrainingExample per line.
 * Lines of one partition keep their offset order, which is what the trainer's tie-break between two
 * labels of one transaction with the same labeledAt relies on (a transaction lives in one partition).
 *
 * Values are written as decoded, with one change JSON forces: a non-finite feature value (Avro
 * doubles can hold them) becomes null, which the trainer reads as missing, as the scorer treats it.
 * The file appears only when complete (written beside it, then renamed).
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { buildCatalogue, CatalogueConfig } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import type { TrainingExample } from '../../schemas/types.js';
import { plaintextConnection, type KafkaConnection } from '../../topology/kafka/connection.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { createRegistryClient, plainRegistryClient, type RegistryClientSettings } from '../../schemas/registryClient.js';

export const ExportTrainingConfig = z.object({
  brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'broker must be host:port')).min(1),
  /** TLS/SASL (bin/kafkaConnection.ts); without it, plaintext to `brokers`. */
  connection: z.custom<KafkaConnection>((v) => typeof v === 'object' && v !== null).optional(),
  schemaRegistryUrl: z.string().url(),
  /** Registry auth and CA (schemas/registryClient.ts); without it, the URL alone. */
  registry: z.custom<RegistryClientSettings>((v) => typeof v === 'object' && v !== null).optional(),
  /** Topic naming (prefix); the topic read is the catalogue's trainingExamples. */
  catalogue: CatalogueConfig.optional(),
  /** The JSONL file to write. */
  out: z.string().min(1),
});
export type ExportTrainingConfig = z.input<typeof ExportTrainingConfig>;

export interface ExportTrainingResult {
  topic: string;
  path: string;
  examples: number;
  /** Records with a null value (none are expected on this topic; counted, not written). */
  tombstones: number;
  partitions: number;
}

export async function exportTrainingExamples(input: ExportTrainingConfig, logger: Logger): Promise<ExportTrainingResult> {
  const config = ExportTrainingConfig.parse(input);
  const topic = buildCatalogue(config.catalogue).trainingExamples.name;
  // register: false — an export reads; it must not add a schema version to the subject.
  const serdes = await createSerdes(createRegistryClient(config.registry ?? plainRegistryClient(config.schemaRegistryUrl)), buildCatalogue(config.catalogue), { register: false });
  const serde = serdes.trainingExamples;
  const client = createKafkajsClient({ connection: config.connection ?? plaintextConnection(config.brokers), clientId: 'riskloop-export-training', logger });

  const admin = await client.admin();
  let ends: Map<number, number>;
  try {
    if (!(await admin.partitionCounts([topic])).has(topic)) throw new Error(`topic ${topic} does not exist (run riskloop topics create, and the loop, first)`);
    ends = await admin.endOffsets(topic);
  } finally {
    await admin.disconnect();
  }

  await mkdir(path.dirname(path.resolve(config.out)), { recursive: true });
  const partial = `${config.out}.partial`;
  const file = createWriteStream(partial, { encoding: 'utf8' });
  const result: ExportTrainingResult = { topic, path: config.out, examples: 0, tombstones: 0, partitions: ends.size };
  const reader = client.partitionReader({ readCommitted: true });
  try {
    await reader.read(
      [...ends.keys()].map((partition) => ({ topic, partition, offset: 0 })),
      async (batch) => {
        const values = batch.records.flatMap((r) => (r.value ? [r.value] : []));
        await serde.prefetch(values);
        let chunk = '';
        for (const record of batch.records) {
          if (record.value === null) {
            result.tombstones++;
            continue;
          }
          let example: TrainingExample;
          try {
            example = serde.deserialize(record.value);
          } catch (error) {
            throw new Error(`${topic}/${record.partition}@${record.offset}: ${(error as Error).message}`, { cause: error });
          }
          chunk += `${JSON.stringify(example)}\n`;
          result.examples++;
        }
        if (chunk && !file.write(chunk)) await once(file, 'drain');
      },
    );
    file.end();
    await once(file, 'finish');
    await rename(partial, config.out);
  } catch (error) {
    file.destroy();
    await rm(partial, { force: true });
    throw error;
  } finally {
    await reader.stop();
  }
  return result;
}
