/**
 * One stream thread of the risk loop (RISKLOOP_STREAM_THREADS > 1): the `createStreamThread`
 * factory that topology/threads/ runs in each worker thread. The thread builds the whole loop as
 * a one-thread instance does (buildRiskLoopApp: serdes, rules, model registry seeded from the
 * cards, its own global stores — model releases included — and its own KafkaStreams), under an
 * instance id of its own so that its state folder and client id are its own.
 *
 * With the main thread (bin/riskLoopApp.ts) it exchanges:
 *  - to main: every model release the thread applied ({kind:'release'}), so that the main thread's
 *    registry and release events (/metrics, the dashboard) follow the releases too;
 *  - to main, with each metrics snapshot: the loop counters (re-routes, idempotency outcomes);
 *  - from main: {kind:'rules', path} after a rule reload through the ops server.
 */
import pino from 'pino';
import { Secret } from '../topology/kafka/connection.js';
import type { KafkaConnection } from '../topology/kafka/connection.js';
import { KafkaStreams } from '../topology/kafka/kafkaStreams.js';
import type { StreamThreadContext, StreamThreadHandle } from '../topology/threads/streamThreads.js';
import type { ModelRelease } from '../schemas/types.js';
import type { IdempotencyCounters } from '../processors/idempotency.js';
import type { ScreeningCounts } from '../processors/screening/kycScreening.js';
import type { AppConfig } from './config.js';
import { buildRiskLoopApp, type RiskLoopBuildOptions } from './riskLoopApp.js';

/** The same redaction as `riskloop run`'s logger: nothing should log these, and if something tries, the value never leaves. */
const REDACT = { paths: ['pan', '*.pan', 'accountId', '*.accountId', 'tokenizer', '*.key'], censor: '[redacted]' };

/** The instance id of thread `index`: its state root (<stateDir>/<id>) and client id are its own. */
export function threadInstanceId(instanceId: string | undefined, index: number): string {
  return instanceId ? `${instanceId}.thread-${index}` : `thread-${index}`;
}

/** AppConfig as it crosses to a worker: Secret values revealed (a structured clone drops private fields). */
export interface ThreadConfigData {
  config: Omit<AppConfig, 'kafka'> & { kafka: Omit<KafkaConnection, 'tls' | 'sasl'> & { tls?: { ca?: string; cert?: string; key?: string }; sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string } } };
  opts: Pick<RiskLoopBuildOptions, 'loop'>;
}

export function encodeThreadData(config: AppConfig, opts: Pick<RiskLoopBuildOptions, 'loop'>): ThreadConfigData {
  const { tls, sasl, ...kafka } = config.kafka;
  if (sasl?.mechanism === 'OAUTHBEARER') {
    throw new Error('RISKLOOP_STREAM_THREADS > 1 does not support SASL OAUTHBEARER yet: its token provider is a function, which a worker thread cannot receive');
  }
  return {
    config: {
      ...config,
      kafka: {
        ...kafka,
        ...(tls ? { tls: { ...tls, key: tls.key?.reveal() } } : {}),
        ...(sasl ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password.reveal() } } : {}),
      },
    },
    opts,
  };
}

export function decodeThreadData(data: ThreadConfigData): { config: AppConfig; opts: Pick<RiskLoopBuildOptions, 'loop'> } {
  const { tls, sasl, ...kafka } = data.config.kafka;
  const connection: KafkaConnection = {
    ...kafka,
    ...(tls ? { tls: { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: new Secret(tls.key) } : {}) } } : {}),
    ...(sasl ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: new Secret(sasl.password) } } : {}),
  };
  const registry = data.config.registry;
  return {
    config: { ...data.config, kafka: connection, registry: { ...registry, ...(registry.ca ? { ca: Buffer.from(registry.ca) } : {}) } },
    opts: data.opts,
  };
}

/** Messages between the loop's threads and its main thread. */
export type LoopThreadMessage = { kind: 'release'; release: ModelRelease; referenceValues?: Record<string, number> } | { kind: 'rules'; path: string };

export interface LoopThreadReport {
  misrouted: [topic: string, count: number][];
  idempotency: IdempotencyCounters;
  screening: ScreeningCounts | null;
}

/** A release after a structured clone: its artifact (a Buffer) arrives as a Uint8Array. */
export function reviveRelease(r: ModelRelease): ModelRelease {
  return { ...r, artifact: r.artifact ? Buffer.from(r.artifact.buffer, r.artifact.byteOffset, r.artifact.byteLength) : null };
}

export async function createStreamThread(data: unknown, ctx: StreamThreadContext): Promise<StreamThreadHandle> {
  const { config: base, opts } = decodeThreadData(data as ThreadConfigData);
  const config: AppConfig = { ...base, numStreamThreads: 1, instanceId: threadInstanceId(base.instanceId, ctx.index) };
  const logger = pino({ level: config.logLevel, redact: REDACT }).child({ thread: ctx.index });
  const app = await buildRiskLoopApp(config, logger, opts);
  const streams = app.streams;
  if (!(streams instanceof KafkaStreams)) throw new Error('a stream thread runs one KafkaStreams');
  const apply = app.models.applyRelease.bind(app.models);
  app.models.applyRelease = async (release, referenceValues) => {
    const outcome = await apply(release, referenceValues);
    ctx.post({ kind: 'release', release, ...(referenceValues ? { referenceValues } : {}) } satisfies LoopThreadMessage);
    return outcome;
  };
  ctx.onMessage((payload) => {
    const m = payload as LoopThreadMessage;
    // Refusals are logged by the holder; the running rule set stays, as in the main thread.
    if (m.kind === 'rules') void app.rules.load(m.path).catch(() => undefined);
  });
  return {
    streams,
    close: () => app.close(),
    report: (): LoopThreadReport => ({ misrouted: app.counters.misrouted.entries(), idempotency: { ...app.counters.idempotency }, screening: app.counters.screening ? { ...app.counters.screening } : null }),
  };
}
