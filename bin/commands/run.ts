/**
 * `riskloop run`: the risk loop as a long-running instance. Start more instances with the same
 * RISKLOOP_APP_ID to scale out; SIGTERM commits, closes tasks cleanly (with checkpoints) and
 * leaves the group (exit 0, or 1 after 25 s if the close hangs). When any runtime in the process
 * dies, the process logs why and exits non-zero within 10 s so that its supervisor restarts it
 * (bin/processGuard.ts, docs/operations.md "When something fails").
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { LOOP_FLAG_OPTIONS, LOOP_FLAG_USAGE, loopFlagValues, readAppConfig } from '../config.js';
import { buildRiskLoopApp } from '../riskLoopApp.js';
import { startMallocTrim } from '../../ops/mallocTrim.js';
import { startOps, type OpsRuntime } from '../../ops/opsRuntime.js';
import { ensureTopics } from './topicsEnsure.js';
import { readFile } from 'node:fs/promises';
import { AuditConsumer, AuditSink } from '../../ops/auditSink.js';
import { AuditLog, auditTopicName, ensureAuditTopic, osPrincipal } from '../../ops/auditEvents.js';
import { readOpsAuthConfig } from '../../ops/opsAuth.js';
import { readReviewQueueConfig, startReviewQueue, type ReviewQueue } from '../../ops/reviewQueueRuntime.js';
import { assertOpsExposureAllowed } from '../../ops/server.js';
import { driftTopology } from '../../ops/driftTopology.js';
import { KafkaStreams } from '../../topology/kafka/kafkaStreams.js';
import type { CommandIo } from './topics.js';
import { explainKafkaError } from '../../topology/kafka/connection.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { logAndContinue, logAndFail } from '../../topology/errors.js';
import { readFaultSpec, withConsumerCrash } from '../faultInjection.js';
import { EXIT_STARTUP_FAILED, ProcessGuard } from '../processGuard.js';

/** From a runtime's failure to the exit (bin/processGuard.ts; docs/operations.md). */
const FAILURE_EXIT_MS = 10_000;
/** From SIGTERM/SIGINT to the exit, clean close or not. */
const STOP_EXIT_MS = 25_000;

export const RUN_USAGE = [
  'usage: riskloop run [--app-id ID] [--prefix P] [--guarantee exactly_once|at_least_once] [--state-dir DIR] [--create-topics]',
  '',
  'Configuration comes from the environment (flags override): KAFKA_BROKERS, SCHEMA_REGISTRY_URL,',
  'RISKLOOP_APP_ID, RISKLOOP_TOPIC_PREFIX, RISKLOOP_PARTITIONS, RISKLOOP_GUARANTEE, RISKLOOP_STATE_DIR,',
  'RISKLOOP_RULES, RISKLOOP_MODEL_CARD, RISKLOOP_INSTANCE_ID, RISKLOOP_STREAM_THREADS (1; N worker threads, each its own',
  'consumer in the group: docs/operations.md), LOG_LEVEL, and the tokenization keys',
  'RISKLOOP_ACCOUNT_TOKEN_KEY, RISKLOOP_CARD_KEYS (JSON [{id,key}]), RISKLOOP_CARD_KEY_ID (environment only).',
  'Ops server: RISKLOOP_METRICS_PORT, RISKLOOP_OPS_HOST, RISKLOOP_OPS_USERS_FILE, RISKLOOP_OPS_TOKENS_FILE,',
  'RISKLOOP_METRICS_TOKEN_FILE, RISKLOOP_OPS_COOKIE_SECURE (docs/operations.md). Audit: RISKLOOP_AUDIT_DB.',
  'Charts and alerts: RISKLOOP_LATENCY_SLO_MS (default 300), RISKLOOP_PROMETHEUS_URL (chart history; unset: in memory).',
  'Review queue (with RISKLOOP_AUDIT_DB, docs/review-queue.md): RISKLOOP_REVIEW_QUEUE (on|off), RISKLOOP_REVIEW_CLAIM_TTL_S (900), RISKLOOP_REVIEW_SLA_S (14400).',
  'Schema registry access: SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_FILE (or ..._USER_INFO, user:password), SCHEMA_REGISTRY_CA_FILE (https).',
  'Labels:',
  ...LOOP_FLAG_USAGE,
  '  --feature-set FILE        feature-set declaration the hot path computes (default features/default.json; $RISKLOOP_FEATURE_SET_FILE)',
];

async function seededReferences(modelCard: string): Promise<Map<string, Record<string, { edges: number[]; proportions: number[] }>>> {
  if (!modelCard) return new Map();
  const card = JSON.parse(await readFile(modelCard, 'utf8')) as { version: string; referenceDistributions?: Record<string, { edges: number[]; proportions: number[] }> };
  return new Map([[card.version, card.referenceDistributions ?? {}]]);
}

/** A log line that cannot be written (stdout gone) must not change what happens next. */
function quietly(write: () => void): void {
  try {
    write();
  } catch {
    // nowhere left to say it
  }
}

export async function runCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'app-id': { type: 'string' },
      prefix: { type: 'string' },
      guarantee: { type: 'string' },
      'state-dir': { type: 'string' },
      'create-topics': { type: 'boolean' },
      // --feature-set FILE (usage in LOOP_FLAG_USAGE); replay and demo declare it themselves.
      'feature-set': { type: 'string' },
      ...LOOP_FLAG_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    for (const l of RUN_USAGE) io.out(l);
    return 0;
  }
  const flags: Record<string, string> = loopFlagValues(values);
  if (values['app-id']) flags.applicationId = values['app-id'];
  if (values.prefix !== undefined) flags.topicPrefix = values.prefix;
  if (values.guarantee) flags.guarantee = values.guarantee;
  if (values['state-dir']) flags.stateDir = values['state-dir'];
  const config = readAppConfig(io.env, flags);
  const logger = pino({
    level: config.logLevel,
    // Belt and braces: nothing should log these, and if something tries, the value never leaves.
    redact: { paths: ['pan', '*.pan', 'accountId', '*.accountId', 'tokenizer', '*.key'], censor: '[redacted]' },
  });
  // Ops server access (users, API tokens, metrics token): read once, and a bad file stops the start here.
  const opsAuth = readOpsAuthConfig(io.env);
  const opsHost = io.env.RISKLOOP_OPS_HOST ?? '127.0.0.1';
  assertOpsExposureAllowed(opsHost, opsAuth);
  const fault = readFaultSpec(io.env);
  if (fault) logger.warn({ fault }, 'RISKLOOP_INJECT_FAULT is set: this process will fail on purpose');
  const clientFor = (runtime: 'loop' | 'drift') =>
    fault?.runtime === runtime
      ? (clientId: string) => withConsumerCrash(createKafkajsClient({ connection: config.kafka, clientId, logger: logger.child({ app: clientId }) }), fault.afterMs, logger)
      : undefined;

  // Everything started so far, closed in reverse on a failure or a signal.
  const closers: { name: string; close: () => Promise<unknown> }[] = [];
  const closeAll = async (): Promise<void> => {
    const results = await Promise.allSettled([...closers].reverse().map((c) => c.close()));
    results.forEach((r, i) => {
      if (r.status === 'rejected') logger.warn({ component: [...closers].reverse()[i]!.name, err: (r.reason as Error).message }, 'close failed');
    });
    if (results.some((r) => r.status === 'rejected')) throw new Error('some components did not close cleanly');
  };
  const guard = new ProcessGuard({ logger, close: closeAll, hardExitMs: FAILURE_EXIT_MS });
  guard.installProcessHandlers();

  try {
    if (values['create-topics']) await ensureTopics(config, io);
    const loopClient = clientFor('loop');
    const app = await buildRiskLoopApp(config, logger, loopClient ? { client: loopClient } : {});
    guard.watch('loop', app.streams);
    closers.push({ name: 'loop', close: () => app.close() });
    // Privileged actions of this process (the rule set loaded now, ops logins, rule reloads) go to
    // the audit-events topic (ops/auditEvents.ts); with RISKLOOP_AUDIT_DB they reach privileged_audit.
    const auditTopic = auditTopicName(config.topicPrefix);
    const auditClient = createKafkajsClient({ connection: config.kafka, clientId: `${config.applicationId}-audit-events`, logger });
    const auditAdmin = await auditClient.admin();
    try {
      await ensureAuditTopic(auditAdmin, auditTopic);
    } finally {
      await auditAdmin.disconnect();
    }
    const auditProducer = await auditClient.producer();
    closers.push({ name: 'audit-events', close: () => auditProducer.disconnect() });
    const self = { principal: osPrincipal(), authenticated: false };
    const ruleSet = app.rules.current();
    await new AuditLog(auditProducer, auditTopic, { ...self, source: 'loop' }).record({
      action: 'ruleset.load',
      target: ruleSet.version,
      outcome: 'ok',
      details: { path: config.rulesPath, version: ruleSet.version, rules: ruleSet.rules.length, applicationId: config.applicationId },
    });
    const opsAudit = new AuditLog(auditProducer, auditTopic, { ...self, source: 'ops' });
    await app.streams.start();
    const trimmer = startMallocTrim({ everyMs: config.mallocTrimSeconds * 1000, logger });
    closers.push({ name: 'malloc-trim', close: () => trimmer.stop() });
    let ops: OpsRuntime | undefined;
    // Drift: a small topology of its own beside the loop (reads decisions, writes alerts), seeded with
    // the starting champion's reference distributions; later releases bring their own.
    const driftClient = clientFor('drift');
    const drift = new KafkaStreams(
      driftTopology(`${config.applicationId}-drift`, {}, {
        catalogue: app.catalogue,
        serdes: { decisions: app.serdes.decisions, alerts: app.serdes.alerts, modelReleases: app.serdes.modelReleases },
        seeded: await seededReferences(config.modelCard),
        // The ops server is started next; measurements before it exists only miss a gauge update.
        listener: (m) => ops?.decisions.observeDrift(m),
      }),
      { applicationId: `${config.applicationId}-drift`, connection: config.kafka, processingGuarantee: config.guarantee, stateDir: config.stateDir },
      {
        logger,
        // A monitor must not stop on a record it cannot read: skipped with a log line (topic,
        // partition, offset, reason), and the gauges simply miss it.
        errorHandlers: { deserialization: logAndContinue, processing: logAndContinue, production: logAndFail },
        ...(driftClient ? { client: driftClient(`${config.applicationId}-drift-${config.instanceId ?? process.pid}`) } : {}),
      },
    );
    guard.watch('drift', drift);
    closers.push({ name: 'drift', close: () => drift.close() });
    await drift.start();
    // The analysts' review queue (/review, docs/review-queue.md) in the audit database, when there is one.
    const reviewConfig = readReviewQueueConfig(io.env);
    let review: ReviewQueue | undefined;
    if (reviewConfig) {
      review = await startReviewQueue({ store: reviewConfig, connection: config.kafka, applicationId: config.applicationId, catalogue: app.catalogue, serdes: app.serdes, ruleSet: () => app.rules.current(), audit: opsAudit, logger });
      guard.watch('review', review.consumer);
      const reviewQueue = review;
      closers.push({ name: 'review', close: () => reviewQueue.close() });
    }
    // Metrics, health and the dashboard on 127.0.0.1:RISKLOOP_METRICS_PORT (see docs/operations.md).
    ops = await startOps(
      { port: config.metricsPort, host: opsHost, auth: opsAuth },
      {
        connection: config.kafka,
        applicationId: config.applicationId,
        catalogue: app.catalogue,
        serdes: app.serdes,
        streams: { loop: app.streams, drift },
        models: app.models,
        logger,
        loopCounters: app.counters,
        releases: app.releases,
        settings: { latencySloMs: config.latencySloMs, prometheusUrl: config.prometheusUrl },
        rules: { holder: app.rules, path: config.rulesPath },
        audit: opsAudit,
        ...(review ? { routes: [review.routes] } : {}),
        onFatal: (err) => guard.runtimeFailed('ops', 'ops consumer stopped for good', err),
      },
    );
    const opsRuntime = ops;
    review?.registerMetrics(opsRuntime.registry);
    closers.push({ name: 'ops', close: () => opsRuntime.close() });
    // Audit trail in PostgreSQL when RISKLOOP_AUDIT_DB is set (docs/operations.md).
    if (io.env.RISKLOOP_AUDIT_DB) {
      const sink = new AuditSink({ connectionString: io.env.RISKLOOP_AUDIT_DB }, logger.child({ component: 'audit' }));
      await sink.init();
      const audit = new AuditConsumer({ connection: config.kafka, applicationId: config.applicationId, catalogue: app.catalogue, serdes: app.serdes, logger, auditTopic }, sink);
      guard.watch('audit', audit);
      closers.push({ name: 'audit', close: () => audit.stop() });
      await audit.start();
    }
    const stopped = new Promise<number>((resolve) => {
      const stop = (signal: string): void => {
        if (guard.isFailing) return;
        // A clean close commits and writes checkpoints; if it hangs (a broker gone for good), the
        // process still ends inside a supervisor's usual 30 s grace period. The timer comes before
        // the log line: a closed stdout must not keep the process alive.
        const hard = setTimeout(() => {
          quietly(() => logger.error({ afterMs: STOP_EXIT_MS }, 'clean close did not finish in time; exiting'));
          process.exit(1);
        }, STOP_EXIT_MS);
        quietly(() => logger.info({ signal, boundMs: STOP_EXIT_MS }, 'stopping'));
        const done = (code: number): void => {
          clearTimeout(hard);
          // Everything is closed; should a stray handle still hold the event loop, end anyway.
          setTimeout(() => process.exit(code), 2000).unref();
          resolve(code);
        };
        closeAll().then(
          () => done(0),
          (err) => {
            quietly(() => logger.error({ err: (err as Error).message }, 'close failed'));
            done(1);
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    await app.streams.waitForRunning(120_000).catch(() => undefined);
    io.out(`riskloop ${config.applicationId}: ${app.streams.state} (${config.guarantee}); decisions → ${app.catalogue.decisions.name}`);
    return await stopped;
  } catch (err) {
    // Start-up failed (broker or registry unreachable, bad model card, database refused…): say why
    // and exit, whatever was already started still holding the event loop open.
    // A refused SASL login or a TLS failure in words that name the user and what to check, never the secret.
    const why = err instanceof Error && err.name.startsWith('KafkaJS') ? new Error(explainKafkaError(err, config.kafka), { cause: err }) : err;
    guard.failed('start-up', 'could not start', why, EXIT_STARTUP_FAILED);
    return new Promise<number>(() => undefined);
  }
}
