/**
 * `riskloop retrain`: the model lifecycle service (issue 18, lifecycle/retrainer.ts).
 *
 * Both forms, because both are needed:
 * - `riskloop retrain` (long-running): every --check-seconds it retrains when a trigger says so, and
 *   every --tick-seconds, concurrently, it ticks the rollout controller (lifecycle/rollout.ts), which
 *   moves released candidates shadow → canary → champion and rolls back on a failed live check. The
 *   controller runs on its own timer, not after a retrain, so a rollback never waits for a training
 *   run of several minutes. This is the form for a deployment without a scheduler.
 * - `riskloop retrain --once` (one step, for cron/Airflow): checks the triggers once (or retrains at
 *   once with --trigger), runs the retrain if due, and exits. It does not run the controller: give
 *   that its own long-running process (`riskloop retrain --no-retrain`) or the long-running form.
 *   Exit codes: 0 nothing due, skipped (too little data) or a candidate released as shadow;
 *   3 a candidate stopped by a gate; 1 an error (the trainer failed, the broker is unreachable);
 *   2 bad options or policy. A scheduler thus alerts on 1, and 3 is a result, not an outage.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ensureLifecycleTopic, LifecycleLog, lifecycleTopicName } from '../../lifecycle/events.js';
import { loadPolicy, PolicyError } from '../../lifecycle/policy.js';
import { Retrainer, type RetrainOutcome, type Trigger } from '../../lifecycle/retrainer.js';
import { RolloutController } from '../../lifecycle/rollout.js';
import { AuditLog, auditTopicName, cliPrincipal, ensureAuditTopic } from '../../ops/auditEvents.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import { createRegistryClient } from '../../schemas/registryClient.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { LOOP_FLAG_OPTIONS, LOOP_FLAG_USAGE, loopFlagValues, readClientConfig } from '../config.js';
import { ensureVenv } from './train.js';
import type { CommandIo } from './topics.js';

const TRIGGERS: readonly Trigger[] = ['schedule', 'labels', 'drift', 'manual'];

const USAGE = [
  'usage: riskloop retrain [--once] [--trigger manual|schedule|labels|drift] [--policy FILE] [options]',
  'Retrains a candidate when the policy says so, gates it, releases it as shadow; the long-running form also runs the rollout controller.',
  '',
  '  --once                  one step (cron/Airflow): retrain if due, then exit (0 ok/nothing due, 3 stopped by a gate, 1 error)',
  '  --trigger T             retrain now, recording trigger T (with --once; "manual" marks the events as a person\'s)',
  '  --policy FILE           lifecycle policy (default models/lifecycle-policy.json)',
  '  --models-dir DIR        where candidates are written (default models)',
  '  --version V             version of the candidate (--once; default lgbm-<UTC time>)',
  '  --keep-exports DIR      keep each candidate\'s training export as DIR/<version>.training-examples.jsonl (its sha256 is in the candidate event either way)',
  '  --check-seconds S       long-running: how often the triggers are checked (default 60)',
  '  --tick-seconds S        long-running: how often the rollout controller ticks (default 5)',
  '  --no-rollout            long-running: do not run the rollout controller here',
  '  --no-retrain            long-running: run only the rollout controller',
  ...LOOP_FLAG_USAGE,
  'Kafka, registry and topic naming come from the environment as for every command (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, RISKLOOP_TOPIC_PREFIX, ...).',
];

function describe(outcome: RetrainOutcome): string[] {
  if (outcome.kind === 'skipped') return [`retrain (${outcome.trigger}) skipped: ${outcome.reason}`];
  if (outcome.kind === 'failed') return [`retrain (${outcome.trigger}) of ${outcome.version} failed: ${outcome.reason}`];
  const { report, cost } = outcome;
  return [
    `${outcome.version} (${outcome.trigger}): ${outcome.kind === 'released' ? 'gates passed, released as shadow' : `stopped by ${report.failed.join(', ')}`} (champion ${report.champion ?? 'none'}, policy ${report.policyVersion})`,
    ...report.checks.map((c) => `  ${c.passed ? 'pass' : 'FAIL'} ${c.name.padEnd(26)} ${c.value === null ? 'n/a' : +c.value.toPrecision(4)} (limit ${c.limit ?? 'n/a'}): ${c.detail}`),
    `  cost: wall ${(cost.wallMs / 1000).toFixed(1)} s (export ${(cost.exportMs / 1000).toFixed(1)} s, train ${(cost.trainMs / 1000).toFixed(1)} s), CPU ${(cost.cpuMs / 1000).toFixed(1)} s (trainer ${(cost.trainerCpuMs / 1000).toFixed(1)} s), ${cost.examples} examples, ${cost.bytes} bytes exported`,
    `  card ${outcome.cardPath}, gate report ${path.join(path.dirname(outcome.cardPath), `${outcome.version}.gates.json`)}`,
  ];
}

export async function retrainCommand(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        once: { type: 'boolean' },
        trigger: { type: 'string' },
        policy: { type: 'string' },
        'models-dir': { type: 'string' },
        version: { type: 'string' },
        'keep-exports': { type: 'string' },
        'check-seconds': { type: 'string' },
        'tick-seconds': { type: 'string' },
        'no-rollout': { type: 'boolean' },
        'no-retrain': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        ...LOOP_FLAG_OPTIONS,
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(`riskloop retrain: ${(error as Error).message}`);
    return 2;
  }
  if (values.help) {
    USAGE.forEach((l) => io.out(l));
    return 0;
  }
  const trigger = values.trigger as Trigger | undefined;
  if (trigger !== undefined && !TRIGGERS.includes(trigger)) {
    io.err(`riskloop retrain: --trigger must be one of ${TRIGGERS.join(', ')}`);
    return 2;
  }
  const checkSeconds = Number(values['check-seconds'] ?? 60);
  const tickSeconds = Number(values['tick-seconds'] ?? 5);
  if (!(checkSeconds > 0) || !(tickSeconds > 0)) {
    io.err('riskloop retrain: --check-seconds and --tick-seconds must be positive numbers');
    return 2;
  }
  if (!values.once && (trigger !== undefined || values.version !== undefined)) {
    io.err('riskloop retrain: --trigger and --version go with --once');
    return 2;
  }

  let policy;
  try {
    policy = await loadPolicy(values.policy ?? 'models/lifecycle-policy.json');
  } catch (error) {
    if (error instanceof PolicyError) {
      io.err(`riskloop retrain: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const config = readClientConfig(io.env, loopFlagValues(values));
  const logger = pino({ level: config.logLevel, base: { service: 'retrain' } }, pino.destination(2));
  const catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  const serdes = await createSerdes(createRegistryClient(config.registry), catalogue);
  const client = createKafkajsClient({ connection: config.kafka, clientId: 'riskloop-retrain', logger });
  const who = cliPrincipal(config.kafka);
  const lifecycleTopic = lifecycleTopicName(config.topicPrefix);
  const auditTopic = auditTopicName(config.topicPrefix);
  const admin = await client.admin();
  try {
    await ensureLifecycleTopic(admin, lifecycleTopic);
    await ensureAuditTopic(admin, auditTopic);
  } finally {
    await admin.disconnect();
  }
  const producer = await client.producer();
  const lifecycle = new LifecycleLog(producer, lifecycleTopic, new AuditLog(producer, auditTopic, { ...who, source: 'cli' }));
  const modelsDir = path.resolve(values['models-dir'] ?? 'models');
  const host = os.hostname();

  try {
    const python = values['no-retrain'] ? '' : await ensureVenv({ ...io, out: (l) => logger.debug({ setup: l }), err: (l) => logger.info({ setup: l }) });
    const retrainer = new Retrainer({
      config, policy, client, serdes, catalogue, lifecycle, producer, logger, modelsDir, python,
      ...(values['keep-exports'] ? { keepExportsDir: path.resolve(values['keep-exports']) } : {}),
      actor: trigger === 'manual' ? `${who.principal}@${host}` : `retrainer@${host}`,
      onTrainerLine: (line) => logger.info({ trainer: line }),
    });

    if (values.once) {
      const outcome = await retrainer.once(trigger, { version: values.version });
      if (outcome === null) {
        io.out('riskloop retrain: nothing due (no drift alert, too few new labels, schedule not reached)');
        return 0;
      }
      describe(outcome).forEach((l) => io.out(l));
      return outcome.kind === 'failed' ? 1 : outcome.kind === 'rejected' ? 3 : 0;
    }

    // Long-running: two timers, one process. Stopped by SIGTERM/SIGINT after the step in progress.
    const controller = values['no-rollout'] ? null : new RolloutController({ client, serdes, catalogue, lifecycle, policy, logger, modelsDir, actor: `controller@${host}` });
    let stopping = false;
    let wake: (() => void) | null = null;
    const stop = (signal: string) => {
      logger.info({ signal }, 'retrain service stopping after the current step');
      stopping = true;
      wake?.();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    const sleep = (ms: number) => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    if (controller) await controller.start();
    const controllerLoop = (async () => {
      while (controller && !stopping) {
        try {
          await controller.tick();
        } catch (error) {
          logger.error({ err: error }, 'rollout controller tick failed; next tick in a moment');
        }
        await new Promise((resolve) => setTimeout(resolve, tickSeconds * 1000));
      }
    })();
    io.out(`riskloop retrain: running (policy ${policy.version}; triggers every ${checkSeconds} s${controller ? `, rollout controller every ${tickSeconds} s` : ''})`);
    while (!stopping) {
      if (!values['no-retrain']) {
        try {
          const outcome = await retrainer.once();
          if (outcome) describe(outcome).forEach((l) => io.out(l));
        } catch (error) {
          logger.error({ err: error }, 'retrain step failed; the next check retries');
        }
      }
      if (!stopping) await sleep(checkSeconds * 1000);
    }
    await controllerLoop;
    await controller?.stop();
    return 0;
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}
