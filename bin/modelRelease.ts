/**
 * Publishing a model release: a model card (models/*.card.json) and its ONNX artifact become one
 * ModelRelease record on the compacted model-releases topic, keyed by version. Every running
 * instance applies it between scoring batches (processors/modelReleases.ts). The artifact travels
 * inline (bytes) so instances need no shared disk; its sha256 is checked on arrival.
 * Rollback is publishing the previous version as champion again.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { AvroSerde } from '../schemas/avroSerde.js';
import type { ModelRelease, ReferenceHistogram } from '../schemas/types.js';
import type { ReleaseSize } from '../lifecycle/gates.js';
import type { KafkaClient, Producer } from '../topology/kafka/client.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../topology/kafka/kafkajsClient.js';
import { BATCH_OVERHEAD_BYTES } from '../topology/kafka/kafkaStreams.js';

const Card = z.object({
  version: z.string().min(1),
  artifact: z.string().min(1),
  sha256: z.string(),
  features: z.array(z.string()),
  thresholds: z.object({ review: z.number(), decline: z.number() }),
  referenceDistributions: z.record(z.string(), z.object({ edges: z.array(z.number()), proportions: z.array(z.number()) })).default({}),
});

export async function releaseFromCard(
  cardPath: string,
  mode: string,
  opts: { releasedBy?: string; now?: number; sha256Override?: string; artifactOverride?: Buffer } = {},
): Promise<ModelRelease> {
  const card = Card.parse(JSON.parse(await readFile(cardPath, 'utf8')));
  const artifact = opts.artifactOverride ?? (await readFile(path.resolve(path.dirname(cardPath), card.artifact)));
  return {
    version: card.version,
    artifact,
    artifactPath: null,
    sha256: opts.sha256Override ?? card.sha256,
    featureNames: card.features,
    thresholds: card.thresholds,
    mode,
    referenceDistributions: card.referenceDistributions as Record<string, ReferenceHistogram>,
    releasedAt: opts.now ?? Date.now(),
    releasedBy: opts.releasedBy ?? null,
  };
}

export async function publishRelease(producer: Producer, serde: AvroSerde<ModelRelease>, topic: string, release: ModelRelease): Promise<void> {
  await producer.send([{ topic, partition: 0, key: Buffer.from(release.version, 'utf8'), value: serde.serialize(release), timestamp: release.releasedAt }]);
}

/**
 * The release record's size as publishRelease would send it, beside the largest record its topic
 * takes (the broker's max.message.bytes for it; the broker default for a topic not created yet).
 */
export async function releaseSize(client: KafkaClient, serde: AvroSerde<ModelRelease>, topic: string, release: ModelRelease): Promise<ReleaseSize> {
  const admin = await client.admin();
  try {
    const max = (await admin.topicLimits([topic])).get(topic)?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const key = Buffer.byteLength(release.version, 'utf8');
    return { topic, bytes: key + serde.serialize(release).length, limitBytes: max - BATCH_OVERHEAD_BYTES };
  } finally {
    await admin.disconnect();
  }
}
