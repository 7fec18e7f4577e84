/**
 * Replay / backfill: reprocess a range of history into a fresh application id and its own topics.
 *
 * 1. The input topics of the loop are copied into topics under a replay prefix, partition for
 *    partition, bytes, keys, headers and timestamps unchanged: transactions within [from, to),
 *    and everything the loop needs as context — KYC, device signals and model releases before
 *    `to`, labels from `from` on (they arrive after their transactions).
 * 2. Side phase: the cross-entity side sub-topologies alone (riskLoopTopology parts 'side', application
 *    `<app>-side`) run over the whole copy, to the end, and write the `entity-stats` table of the
 *    replay (device / IP / merchant buckets, merchant fraud labels by arrival day). They keep every
 *    bucket (crossEntity.retainAll): the hot phase reads this table at its END for transactions from
 *    the first day of the range on. This phase runs at_least_once, whatever the configured guarantee:
 *    it ends when its repartition topics are consumed to their end offsets, which transaction
 *    markers would blur, and a failed replay is simply run again under a new id.
 * 3. Hot phase: the hot path alone (parts 'hot', application `<app>`) runs on the copy as a bounded
 *    run (KafkaStreams boundedInput): the global tables (KYC is task-local; devices, entity-stats,
 *    model releases) are read to their end before any task starts, each task merges its inputs
 *    strictly by event time whatever the fetch timing, and the run ends when every input is read to
 *    its end. Features are read as of each transaction's event time (entity-stats: only buckets
 *    closed a lag before it), so a table holding the future changes nothing, and the same input gives
 *    the same decisions (wall-clock fields aside).
 * Why two phases: run together, the side topologies would update entity-stats while the hot path
 * reads it, and what a transaction saw would depend on how far the side had got: not replayable.
 * Live, the same as-of reads give the same features as long as the side keeps up with the lag.
 * The live loop is never touched; the copy can be deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { buildCatalogue, type TopicId } from '../schemas/catalogue.js';
import type { Admin, OutgoingRecord, TopicPartitionOffset } from '../topology/kafka/client.js';
import { CrossEntityTopics } from '../processors/crossEntity/wiring.js';
import { repartitionTopicName } from '../topology/topology.js';
import { createKafkajsClient } from '../topology/kafka/kafkajsClient.js';
import type { AuditLog } from '../ops/auditEvents.js';
import type { AppConfig } from './config.js';
import { buildRiskLoopApp } from './riskLoopApp.js';
import { ensureTopics } from './commands/topicsEnsure.js';
import type { CommandIo } from './commands/topics.js';

export interface ReplayOptions {
  fromMs: number;
  toMs: number;
  /** Names the replay's application id and topic prefix. */
  replayId?: string;
  onProgress?: (p: { phase: 'copy' | 'side' | 'process'; done: number; total: number; elapsedMs: number }) => void;
  /**
   * Privileged-action audit (ops/auditEvents.ts): `replay.start` once the replay's topics exist,
   * `replay.finish` ok or failed at the end. A replay that cannot be audited does not start.
   */
  audit?: Pick<AuditLog, 'record'>;
}

export interface ReplayResult {
  replayId: string;
  applicationId: string;
  topicPrefix: string;
  copied: Record<string, number>;
  /** Records processed by the side phase (cross-entity tables). */
  sideProcessed: number;
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
  const replayId = opts.replayId ?? randomUUID().slice(0, 8);
  const topicPrefix = `${config.topicPrefix}replay-${replayId}.`;
  const applicationId = `${config.applicationId}-replay-${replayId}`;
  const details = { fromMs: opts.fromMs, toMs: opts.toMs, from: new Date(opts.fromMs).toISOString(), to: new Date(opts.toMs).toISOString(), topicPrefix, applicationId };
  await opts.audit?.record({ action: 'replay.start', target: replayId, outcome: 'ok', details });
  try {
    const result = await runReplay(config, { ...opts, replayId }, { replayId, topicPrefix, applicationId }, logger, io);
    await opts.audit?.record({ action: 'replay.finish', target: replayId, outcome: 'ok', details: { ...details, copied: result.copied, processed: result.processed, ms: result.ms } });
    return result;
  } catch (err) {
    await opts.audit?.record({ action: 'replay.finish', target: replayId, outcome: 'failed', details: { ...details, error: (err as Error).name } }).catch(() => undefined);
    throw err;
  }
}

async function runReplay(
  config: AppConfig,
  opts: ReplayOptions,
  ids: { replayId: string; topicPrefix: string; applicationId: string },
  logger: Logger,
  io: CommandIo,
): Promise<ReplayResult> {
  const started = Date.now();
  const { replayId, topicPrefix, applicationId } = ids;
  const source = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  const target = buildCatalogue({ prefix: topicPrefix, partitions: config.partitions });
  // A replay copies history on purpose: its topics must not expire it while it runs.
  await ensureTopics(config, io, { prefix: topicPrefix, keepHistory: true });

  const client = createKafkajsClient({ connection: config.kafka, clientId: `replay-${replayId}`, logger });
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

  const sideProcessed = await runSidePhase(config, { replayId, applicationId, topicPrefix, total, started }, opts, logger);

  const app = await buildRiskLoopApp(
    { ...config, applicationId, topicPrefix, stateDir: path.join(config.stateDir, 'replay', replayId) },
    logger,
    { bounded: true, loop: { parts: 'hot' } },
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
  return { replayId, applicationId, topicPrefix, copied, sideProcessed, processed, ms: Date.now() - started };
}

const SIDE_DRAIN_TIMEOUT_MS = 30 * 60_000;

/**
 * Runs the side sub-topologies over the copy until their output is complete: the bounded run's
 * 'caughtUp' covers the input topics, then the repartition topics between the side sub-topologies
 * (filled while it ran) must be consumed to their end, checked upstream first, twice in a row.
 */
async function runSidePhase(
  config: AppConfig,
  r: { replayId: string; applicationId: string; topicPrefix: string; total: number; started: number },
  opts: ReplayOptions,
  logger: Logger,
): Promise<number> {
  const sideAppId = `${r.applicationId}-side`;
  const app = await buildRiskLoopApp(
    { ...config, applicationId: sideAppId, topicPrefix: r.topicPrefix, guarantee: 'at_least_once', stateDir: path.join(config.stateDir, 'replay', r.replayId, 'side') },
    logger,
    { bounded: true, loop: { parts: 'side', crossEntity: { retainAll: true } } },
  );
  const client = createKafkajsClient({ connection: config.kafka, clientId: `replay-${r.replayId}-side`, logger });
  const admin = await client.admin();
  let failed: Error | undefined;
  app.streams.once('error', (err: Error) => {
    failed = err;
  });
  const caughtUp = new Promise<void>((resolve, reject) => {
    app.streams.once('caughtUp', resolve);
    app.streams.once('error', reject);
  });
  await app.streams.start();
  const ticker = setInterval(() => {
    opts.onProgress?.({ phase: 'side', done: app.streams.metrics.total('riskloop_records_processed_total'), total: r.total, elapsedMs: Date.now() - r.started });
  }, 1000);
  try {
    await caughtUp;
    // Upstream first: label attribution writes into the entity-activity topic.
    const topics = [CrossEntityTopics.attribution, CrossEntityTopics.activity].map((base) => repartitionTopicName(sideAppId, base));
    const deadline = Date.now() + SIDE_DRAIN_TIMEOUT_MS;
    let drainedPasses = 0;
    while (drainedPasses < 2) {
      if (failed) throw failed;
      if (Date.now() > deadline) throw new Error(`replay side phase: ${topics.join(', ')} not consumed to their end within ${SIDE_DRAIN_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      drainedPasses = (await consumedToEnd(admin, sideAppId, topics)) ? drainedPasses + 1 : 0;
    }
    return app.streams.metrics.total('riskloop_records_processed_total');
  } finally {
    clearInterval(ticker);
    await admin.disconnect();
    await app.close();
  }
}

/** Whether the group has committed every partition of the topics, in order, at its end offset. */
async function consumedToEnd(admin: Admin, groupId: string, topics: string[]): Promise<boolean> {
  for (const topic of topics) {
    const ends = await admin.endOffsets(topic);
    const committed = await admin.committedOffsets(groupId, [topic]);
    for (const [partition, end] of ends) {
      if (end === 0) continue;
      const c = committed.find((o) => o.topic === topic && o.partition === partition);
      if (c === undefined || c.offset < end) return false;
    }
  }
  return true;
}
