/**
 * Everything operational around one running loop, started by `riskloop run`: the Prometheus
 * registry (runtime metrics bridged, decision metrics from the output topics, Node process
 * metrics), and the HTTP server with health, metrics and the dashboard.
 */
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { IdempotencyCounters } from '../processors/idempotency.js';
import type { ScreeningCounts } from '../processors/screening/kycScreening.js';
import type { MisroutedCounters } from '../processors/partitionCheck.js';
import { rocksdbMemory } from '../state/rocksdbSync.js';
import type { ModelRegistry } from '../processors/modelRegistry.js';
import type { Catalogue } from '../schemas/catalogue.js';
import type { TopicSerdes } from '../schemas/createSerdes.js';
import type { KafkaConnection } from '../topology/kafka/connection.js';
import type { StreamsRuntime } from '../topology/threads/streamThreads.js';
import { DriftConfig, SCORE_REFERENCE } from '../processors/driftMonitor.js';
import { DecisionMetrics, OutputTopicsConsumer, SCORE_BUCKETS } from './decisionMetrics.js';
import { GroupLagMonitor } from './groupLag.js';
import { ReleaseEvents } from './releaseEvents.js';
import { annotationsOf, PrometheusSource, psiHeatmap, SampleRing, WINDOWS, type ChartData, type WindowName } from './timeSeries.js';
import { RuntimeMetricsBridge } from './runtimeMetrics.js';
import { OpsServer, type OpsServerConfigInput, type OpsServerDeps } from './server.js';

export interface OpsRuntimeDeps {
  connection: KafkaConnection;
  applicationId: string;
  catalogue: Catalogue;
  serdes: Pick<TopicSerdes, 'decisions' | 'deadLetters' | 'trainingExamples'>;
  /** A KafkaStreams, or the client of a loop's stream threads (RISKLOOP_STREAM_THREADS > 1). */
  streams: { [name: string]: StreamsRuntime };
  models?: ModelRegistry;
  logger: Logger;
  /** The ops consumer stopped for good: `riskloop run` ends the process (bin/processGuard.ts). */
  onFatal?: (err: Error) => void;
  /** The loop's own counters (re-routes, idempotency), exported as counters. */
  loopCounters?: LoopCounters;
  /** The rule set POST /api/rules/reload reloads, and where privileged actions are recorded. */
  rules?: OpsServerDeps['rules'];
  audit?: OpsServerDeps['audit'];
  /** Route modules the ops server mounts (the review queue, ops/reviewQueue.ts). */
  routes?: OpsServerDeps['routes'];
  /** Releases seen by the loop (bin/riskLoopApp.ts); a fresh, empty one otherwise. */
  releases?: ReleaseEvents;
  settings?: OpsSettings;
}

/** Charts and alert inputs; from the process configuration (bin/config.ts). */
export interface OpsSettings {
  /** RISKLOOP_LATENCY_SLO_MS; default 300 (the decision API's default deadline). */
  latencySloMs?: number;
  /** RISKLOOP_PROMETHEUS_URL: charts read history from it; empty or absent: the in-memory ring. */
  prometheusUrl?: string;
  /** How often the in-memory ring samples (default 5 s, the 15-minute window's step). */
  sampleIntervalMs?: number;
  /** How often the group lag is polled from the broker (default 5 s). */
  lagPollMs?: number;
}

export const RUNTIME_STATES = ['CREATED', 'REBALANCING', 'RUNNING', 'PENDING_SHUTDOWN', 'NOT_RUNNING', 'ERROR'] as const;

/** Counters the loop's processors keep in process (summed over tasks). */
export interface LoopCounters {
  misrouted: MisroutedCounters;
  idempotency: IdempotencyCounters;
  /** Sanctions/PEP screening of KYC names; null when no list is configured (nothing screened). */
  screening: Readonly<ScreeningCounts> | null;
}

export interface OpsRuntime {
  registry: Registry;
  decisions: DecisionMetrics;
  releases: ReleaseEvents;
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
  const screening = loop.screening;
  if (screening === null) return;
  new Counter({
    name: 'riskloop_screening_events_total',
    help: 'Sanctions/PEP screening of KYC holder names, by event: screened (a KYC name checked), rescreened (a kept name checked again against a new list version), hits (new hits published), unopenable (a kept sealed name the configured key cannot open: left for the next KYC update).',
    labelNames: ['event'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ event: 'screened' }, screening.screened);
      this.inc({ event: 'rescreened' }, screening.rescreened);
      this.inc({ event: 'hits' }, screening.hits);
      this.inc({ event: 'unopenable' }, screening.unopenable);
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
  const settings = deps.settings ?? {};
  const releases = deps.releases ?? new ReleaseEvents();
  releases.register(registry);
  const driftThreshold = DriftConfig.parse({}).threshold;
  const decisions = new DecisionMetrics(registry, () => modelRoles(deps.models), Date.now, {
    latencySloMs: settings.latencySloMs ?? 300,
    driftThreshold,
    scoreReference: (v) => releases.reference(v, SCORE_REFERENCE),
  });
  // One series per runtime and state, 1 for the state it is in (the enum pattern): "not RUNNING" alerts.
  new Gauge({
    name: 'riskloop_runtime_state',
    help: 'State of each runtime of this process (loop, drift): 1 for the state it is in, 0 for the others.',
    labelNames: ['runtime', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [runtime, s] of Object.entries(deps.streams)) for (const state of RUNTIME_STATES) this.set({ runtime, state }, s.state === state ? 1 : 0);
    },
  });
  const lag = new GroupLagMonitor(registry, {
    connection: deps.connection,
    clientId: deps.applicationId,
    groupId: deps.applicationId,
    topics: [deps.catalogue.transactions.name, deps.catalogue.kyc.name, deps.catalogue.deviceSignals.name, deps.catalogue.chargebacks.name, deps.catalogue.analystOutcomes.name],
    intervalMs: settings.lagPollMs ?? 5000,
    logger: deps.logger.child({ component: 'ops-lag' }),
  });
  const ring = new SampleRing(decisions.latencyBounds, SCORE_BUCKETS, Math.ceil((WINDOWS['24h'].rangeS * 1000) / (settings.sampleIntervalMs ?? 5000)) + 2);
  const sample = async (): Promise<void> => {
    releases.noteModelSet(modelRoles(deps.models));
    const c = decisions.counts();
    const cumulative = async (h: { get(): Promise<{ values: { labels: Partial<Record<string, string | number>>; value: number; metricName?: string }[] }> }, bounds: readonly number[]): Promise<number[]> => {
      const out = new Array<number>(bounds.length + 1).fill(0);
      for (const v of (await h.get()).values) {
        if (!v.metricName?.endsWith('_bucket')) continue;
        const i = v.labels.le === '+Inf' ? bounds.length : bounds.indexOf(Number(v.labels.le));
        if (i >= 0) out[i]! += v.value;
      }
      return out;
    };
    const sumBy = async (m: { get(): Promise<{ values: { labels: Partial<Record<string, string | number>>; value: number }[] }> }, label: string): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const v of (await m.get()).values) out[String(v.labels[label])] = (out[String(v.labels[label])] ?? 0) + v.value;
      return out;
    };
    ring.push({
      t: Date.now(),
      decisions: Object.fromEntries(c.byOutcome),
      deadLetters: await sumBy(decisions.deadLetters, 'reason'),
      labels: await sumBy(decisions.labels, 'label_source'),
      fraud: c.fraud,
      labelsTotal: c.labels,
      latency: await cumulative(decisions.pipelineLatency, decisions.latencyBounds),
      score: await cumulative(decisions.scores, SCORE_BUCKETS),
      lag: Object.fromEntries(lag.samples().map((s) => [`${s.topic}[${s.partition}]`, s.lag])),
      runtimes: Object.fromEntries(Object.entries(deps.streams).map(([n, s]) => [n, s.state === 'RUNNING' ? 1 : 0])),
    });
  };
  const prometheus = settings.prometheusUrl ? new PrometheusSource(settings.prometheusUrl) : undefined;
  const charts = async (window: WindowName, nowMs: number): Promise<ChartData> => {
    const fromMs = nowMs - WINDOWS[window].rangeS * 1000;
    // PSI by event-time hour, the last 24 measured, whatever the window: hours close once an hour.
    const local = { psi: psiHeatmap(decisions.driftHours(), 24), annotations: annotationsOf(releases.events(fromMs)) };
    if (prometheus) return prometheus.chart(window, nowMs, local);
    const champion = modelRoles(deps.models).find((m) => m.role === 'champion');
    const ref = champion ? releases.reference(champion.version, SCORE_REFERENCE) : undefined;
    const reference = ref ? decisions.referenceShares(ref) : null;
    return ring.chart(window, nowMs, { sloSeconds: decisions.latencySloSeconds, psiThreshold: driftThreshold, reference, ...local });
  };
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
    // The state it is in now too: a runtime may have reached it before the ops server started
    // (riskloop run starts other parts in between), and the log must still say so.
    deps.logger.info({ runtime: name, to: s.state, at: 'ops start' }, 'runtime state');
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
    ...(deps.routes ? { routes: deps.routes } : {}),
    charts,
    releases,
  });
  const address = await http.start();
  await consumer.start();
  await lag.start();
  await sample();
  const sampler = setInterval(() => void sample().catch((err: unknown) => deps.logger.warn({ err: (err as Error).message }, 'ops sample failed')), settings.sampleIntervalMs ?? 5000);
  sampler.unref();
  return {
    registry,
    decisions,
    address,
    releases,
    async close() {
      clearInterval(sampler);
      await lag.stop();
      await consumer.stop();
      await http.close();
    },
  };
}
