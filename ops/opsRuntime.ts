/**
 * Everything operational around one running loop, started by `riskloop run`: the Prometheus
 * registry (runtime metrics bridged, decision metrics from the output topics, Node process
 * metrics), and the HTTP server with health, metrics and the dashboard.
 */
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { IdempotencyCounters } from '../processors/idempotency.js';
import type { MisroutedCounters } from '../processors/partitionCheck.js';
import { rocksdbMemory } from '../state/rocksdbSync.js';
import type { ModelRegistry } from '../processors/modelRegistry.js';
import type { Catalogue } from '../schemas/catalogue.js';
import type { TopicSerdes } from '../schemas/createSerdes.js';
import type { KafkaConnection } from '../topology/kafka/connection.js';
import type { KafkaStreams } from '../topology/kafka/kafkaStreams.js';
import { DecisionMetrics, OutputTopicsConsumer } from './decisionMetrics.js';
import { RuntimeMetricsBridge } from './runtimeMetrics.js';
import { OpsServer, type OpsServerConfigInput, type OpsServerDeps } from './server.js';

export interface OpsRuntimeDeps {
  connection: KafkaConnection;
  applicationId: string;
  catalogue: Catalogue;
  serdes: Pick<TopicSerdes, 'decisions' | 'deadLetters' | 'trainingExamples'>;
  streams: { [name: string]: KafkaStreams };
  models?: ModelRegistry;
  logger: Logger;
  /** The ops consumer stopped for good: `riskloop run` ends the process (bin/processGuard.ts). */
  onFatal?: (err: Error) => void;
  /** The loop's own counters (re-routes, idempotency), exported as counters. */
  loopCounters?: LoopCounters;
  /** The rule set POST /api/rules/reload reloads, and where privileged actions are recorded. */
  rules?: OpsServerDeps['rules'];
  audit?: OpsServerDeps['audit'];
}

/** Counters the loop's processors keep in process (summed over tasks). */
export interface LoopCounters {
  misrouted: MisroutedCounters;
  idempotency: IdempotencyCounters;
}

export interface OpsRuntime {
  registry: Registry;
  decisions: DecisionMetrics;
  address: { host: string; port: number };
  close(): Promise<void>;
}

/** The versions a ModelRegistry holds, with their role, for riskloop_model_info and the dashboard. */
export function modelRoles(models: ModelRegistry | undefined): { version: string; role: string }[] {
  if (!models) return [];
  const set = models.current();
  const out: { version: string; role: string }[] = [];
  if (set.champion) out.push({ version: set.champion.version, role: 'champion' });
  if (set.canary) out.push({ version: set.canary.model.version, role: `canary:${Math.round(set.canary.share * 100)}` });
  for (const s of set.shadows) out.push({ version: s.version, role: 'shadow' });
  return out;
}

/** Exports the loop's in-process counters (re-routes, idempotency) as Prometheus counters, read at scrape. */
export function registerLoopCounters(registry: Registry, loop: LoopCounters): void {
  new Counter({
    name: 'riskloop_misrouted_records_total',
    help: 'Account-keyed input records found on the wrong partition for their key (producer partitioner not murmur2) and re-routed to the owning task, by source topic.',
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [topic, n] of loop.misrouted.entries()) this.inc({ topic }, n);
    },
  });
  new Counter({
    name: 'riskloop_transaction_retries_total',
    help: 'Transactions received again for an id already seen, by outcome: repeated (stored decision sent again), reused (another transaction with the id, dead-lettered), not_replayable, retry_of_undecided.',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const c = loop.idempotency;
      this.inc({ outcome: 'repeated' }, c.repeated);
      this.inc({ outcome: 'reused' }, c.reused);
      this.inc({ outcome: 'not_replayable' }, c.notReplayable);
      this.inc({ outcome: 'retry_of_undecided' }, c.retriesOfUndecided);
    },
  });
}

export async function startOps(server: OpsServerConfigInput, deps: OpsRuntimeDeps): Promise<OpsRuntime> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'riskloop_process_' });
  // RocksDB's native memory is invisible to the heap metrics above: report RocksDB's own account.
  new Gauge({
    name: 'riskloop_rocksdb_memory_bytes',
    help: 'Native memory of the open RocksDB stores of this process, by kind (memtables, table_readers, block_cache).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const m = rocksdbMemory();
      this.set({ kind: 'memtables' }, m.memtables);
      this.set({ kind: 'table_readers' }, m.tableReaders);
      this.set({ kind: 'block_cache' }, m.blockCache);
    },
  });
  if (deps.loopCounters !== undefined) registerLoopCounters(registry, deps.loopCounters);
  const decisions = new DecisionMetrics(registry, () => modelRoles(deps.models));
  const bridge = new RuntimeMetricsBridge(registry, () => Object.values(deps.streams).map((s) => s.metrics));
  const consumer = new OutputTopicsConsumer(
    {
      connection: deps.connection,
      clientId: deps.applicationId,
      catalogue: deps.catalogue,
      serdes: deps.serdes,
      logger: deps.logger.child({ component: 'ops' }),
      ...(deps.onFatal ? { onFatal: deps.onFatal } : {}),
    },
    decisions,
  );
  // State changes are logged by the runtime itself; these add the runtime's name for correlation.
  for (const [name, s] of Object.entries(deps.streams)) {
    s.on('stateChange', (to: string, from: string) => deps.logger.info({ runtime: name, from, to }, 'runtime state'));
  }
  const http = OpsServer.create(server, {
    registry,
    bridge,
    decisions,
    streams: deps.streams,
    logger: deps.logger.child({ component: 'ops-http' }),
    ...(deps.rules ? { rules: deps.rules } : {}),
    ...(deps.audit ? { audit: deps.audit } : {}),
  });
  const address = await http.start();
  await consumer.start();
  return {
    registry,
    decisions,
    address,
    async close() {
      await consumer.stop();
      await http.close();
    },
  };
}
