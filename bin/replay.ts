/**
 * Replay / backfill: reprocess a range of history into a fresh application id and its own topics.
 *
 * 1. The input topics of the loop are copied into topics under a replay prefix, partition for
 *    partition, bytes, keys, headers and timestamps unchanged: transactions within [from, to),
 *    and everything the loop needs as context — KYC, device signals and model releases before
 *    `to`, labels from `from` on (they arrive after their transactions).
 * 2. The loop runs on the copy as a bounded run (KafkaStreams boundedInput): each task merges its
 *    inputs strictly by event time whatever the fetch timing, so the same input gives the same
 *    decisions (wall-clock fields aside), and the run ends when every input is read to its end.
 * The live loop is never touched; the copy can be deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { buildCatalogue, type TopicId } from '../schemas/catalogue.js';
import type { OutgoingRecord, TopicPartitionOffset } from '../topology/kafka/client.js';
import { createKafkajsClient } from '../topology/kafka/kafkajsClient.js';
import type { AppConfig } from './config.js';
import { buildRiskLoopApp } from './riskLoopApp.js';
import { ensureTopics } from './commands/topicsEnsure.js';
import type { CommandIo } from './commands/topics.js';

export interface ReplayOptions {
  fromMs: number;
  toMs: number;
  /** Names the replay's application id and topic prefix. */
  replayId?: string;
  onProgress?: (p: { phase: 'copy' | 'process'; done: number; total: number; elapsedMs: number }) => void;
}

export interface ReplayResult {
  replayId: string;
  applicationId: string;
  topicPrefix: string;
  copied: Record<string, number>;
  processed: number;
  ms: number;
}

type Window = 'range' | 'before-to' | 'from-on';
const COPIED: [TopicId, Window][] = [
  ['transactions', 'range'],
  ['kyc', 'before-to'],
  ['deviceSignals', 'before-to'],
  ['modelReleases', 'before-to'],
  ['chargebacks', 'from-on'],
  ['analystOutcomes', 'from-on'],
];

export async function replayRange(config: AppConfig, opts: ReplayOptions, logger: Logger, io: CommandIo): Promise<ReplayResult> {
  const started = Date.now();
  const replayId = opts.replayId ?? randomUUID().slice(0, 8);
  const topicPrefix = `${config.topicPrefix}replay-${replayId}.`;
  const applicationId = `${config.applicationId}-replay-${replayId}`;
  const source = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  const target = buildCatalogue({ prefix: topicPrefix, partitions: config.partitions });
  // A replay copies history on purpose: its topics must not expire it while it runs.
  await ensureTopics(config, io, { prefix: topicPrefix, keepHistory: true });

  const client = createKafkajsClient({ brokers: config.brokers, clientId: `replay-${replayId}`, logger });
  const admin = await client.admin();
  const producer = await client.producer();
  const copied: Record<string, number> = {};
  let total = 0;
  try {
    for (const [id, window] of COPIED) {
      const from: TopicPartitionOffset[] = [...(await admin.endOffsets(source[id].name)).keys()].map((partition) => ({ topic: source[id].name, partition, offset: 0 }));
      const keep = (ts: number): boolean => (window === 'range' ? ts >= opts.fromMs && ts < opts.toMs : window === 'before-to' ? ts < opts.toMs : ts >= opts.fromMs);
      let n = 0;
      const reader = client.partitionReader({ readCommitted: true });
      await reader.read(from, async (batch) => {
        const out: OutgoingRecord[] = [];
        for (const r of batch.records) {
          if (!keep(r.timestamp)) continue;
          out.push({ topic: target[id].name, partition: r.partition, key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers });
        }
        await producer.send(out);
        n += out.length;
        opts.onProgress?.({ phase: 'copy', done: total + n, total: 0, elapsedMs: Date.now() - started });
      });
      copied[id] = n;
      total += n;
    }
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }

  const app = await buildRiskLoopApp(
    { ...config, applicationId, topicPrefix, stateDir: path.join(config.stateDir, 'replay', replayId) },
    logger,
    { bounded: true },
  );
  const caughtUp = new Promise<void>((resolve, reject) => {
    app.streams.once('caughtUp', resolve);
    app.streams.once('error', reject);
  });
  await app.streams.start();
  const ticker = setInterval(() => {
    opts.onProgress?.({ phase: 'process', done: app.streams.metrics.total('riskloop_records_processed_total'), total, elapsedMs: Date.now() - started });
  }, 1000);
  try {
    await caughtUp;
  } finally {
    clearInterval(ticker);
  }
  const processed = app.streams.metrics.total('riskloop_records_processed_total');
  await app.close();
  return { replayId, applicationId, topicPrefix, copied, processed, ms: Date.now() - started };
}
