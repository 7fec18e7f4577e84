/**
 * A real Prometheus (Debian's `prometheus` 2.42, installed by stack/setup.sh) scrapes a running
 * loop, evaluates ops/prometheus/alerts.yml and answers the dashboard's and Grafana's queries.
 *
 * The loop (with its drift monitor and ops server, as `riskloop run` wires them) runs in this
 * process on the real broker; Prometheus scrapes /metrics every second with the metrics bearer
 * token, as deployed. The alert rules are loaded with every `for:` cut to 2 s and every range to
 * 20 s (the only change; `promtool check rules` passes on both files). The test then:
 *  - sends three event-time hours of transactions whose amounts are far outside the champion's
 *    training reference (drift), some invalid (dead letters), labels for some, a shadow model
 *    release, a release with a wrong checksum (refused) and a rule file that does not load;
 *  - sees RiskloopDriftPsiHigh, RiskloopDeadLetterRate, RiskloopLatencySloBurn (the SLO set to
 *    1 ms), RiskloopModelReleaseRefused and RiskloopRuleSetRefused go pending/firing, and each
 *    alert's expression return series at that moment;
 *  - evaluates every dashboard panel query (ops/timeSeries.ts PANEL_QUERIES): each returns series,
 *    and every query of ops/grafana/riskloop.json is one of them;
 *  - opens the dashboard in headless Chromium and checks the charts' data points against
 *    Prometheus' query_range for the same window; the screenshot goes to test/artifacts/;
 *  - stalls the loop (model scoring hangs) while transactions keep arriving: RiskloopDecisionsStalled;
 *  - stops the drift runtime: RiskloopRuntimeNotRunning.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { publishRelease, releaseFromCard } from '../../bin/modelRelease.js';
import { driftTopology } from '../../ops/driftTopology.js';
import { parseOpsAuthConfig } from '../../ops/opsAuth.js';
import { startOps, type OpsRuntime } from '../../ops/opsRuntime.js';
import { PANEL_QUERIES, promql, WINDOWS, type ChartData } from '../../ops/timeSeries.js';
import { logAndContinue, logAndFail } from '../../topology/errors.js';
import { KafkaStreams } from '../../topology/kafka/kafkaStreams.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import type { Chargeback, Transaction } from '../../schemas/types.js';
import { testAppConfig } from '../support/appConfig.js';
import { brokers, uniq } from '../support/env.js';
import { produce } from '../support/kafkaIo.js';
import { loopData } from '../support/loopData.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RULES = path.join(root, 'ops/prometheus/alerts.yml');
const GRAFANA = path.join(root, 'ops/grafana/riskloop.json');
// git-ignored; docs/dashboard-charts.png is a copy of one run's.
const SCREENSHOT = path.join(root, 'test/artifacts/dashboard-charts.png');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-prom-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOUR = 3_600_000;
const MIN = 60_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The rules as shipped, with every `for:` at 2 s and every range at 20 s: nothing else changes. */
function shortenedRules(text: string): string {
  const doc = YAML.parse(text) as { groups: { rules: { alert?: string; record?: string; expr: string; for?: string }[] }[] };
  for (const g of doc.groups) {
    for (const r of g.rules) {
      r.expr = String(r.expr).replace(/\[\d+[smh]\]/g, '[20s]');
      if (r.for !== undefined && r.for !== '0m' && r.for !== '0s') r.for = '2s';
    }
  }
  return YAML.stringify(doc);
}

interface PromResult {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

class Prometheus {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly log: () => string,
  ) {}

  static async start(port: number, configFile: string, dataDir: string): Promise<Prometheus> {
    let log = '';
    const child = spawn('prometheus', [`--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-5000)));
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-5000)));
    const p = new Prometheus(`http://127.0.0.1:${port}`, child, () => log);
    const deadline = Date.now() + 30_000;
    while ((await fetch(`${p.url}/-/ready`).then((r) => r.status, () => 0)) !== 200) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`prometheus did not become ready: ${log}`);
      await sleep(200);
    }
    return p;
  }

  async api<T>(pathname: string, params: Record<string, string> = {}): Promise<T> {
    const u = new URL(pathname, this.url);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    const body = (await (await fetch(u)).json()) as { status: string; error?: string; data: T };
    if (body.status !== 'success') throw new Error(`prometheus ${pathname} ${JSON.stringify(params)}: ${body.error}; log: ${this.log()}`);
    return body.data;
  }

  async query(q: string, time?: number): Promise<PromResult[]> {
    return (await this.api<{ result: PromResult[] }>('/api/v1/query', { query: q, ...(time ? { time: String(time) } : {}) })).result;
  }

  async range(q: string, start: number, end: number, step: number): Promise<PromResult[]> {
    return (await this.api<{ result: PromResult[] }>('/api/v1/query_range', { query: q, start: String(start), end: String(end), step: String(step) })).result;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

describe('Prometheus scraping a running loop', () => {
  it('evaluates the alert rules, the Grafana and dashboard queries, and the charts show what Prometheus holds', async () => {
    const promtool = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(promtool.status, `promtool check rules ${RULES}: ${promtool.stdout}${promtool.stderr}`).toBe(0);
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (stack/setup.sh)`);

    const id = uniq('prom');
    const c = testAppConfig(id, stateRoot);
    const logger = pino({ level: 'error' });
    await ensureTopics(c, { out: () => undefined, err: (l: string) => console.error(l), env: process.env }, { keepHistory: true });

    // Rules for this run: shortened, checked by promtool too.
    const shortRules = path.join(stateRoot, 'alerts.short.yml');
    writeFileSync(shortRules, shortenedRules(readFileSync(RULES, 'utf8')));
    const promtoolShort = spawnSync('promtool', ['check', 'rules', shortRules], { encoding: 'utf8' });
    expect(promtoolShort.status, promtoolShort.stdout + promtoolShort.stderr).toBe(0);
    const alertRules = (YAML.parse(readFileSync(shortRules, 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alertRules.map((r) => r.alert).sort()).toEqual(
      ['RiskloopDeadLetterRate', 'RiskloopDecisionsStalled', 'RiskloopDriftPsiHigh', 'RiskloopLatencySloBurn', 'RiskloopModelReleaseRefused', 'RiskloopRuleSetRefused', 'RiskloopRuntimeNotRunning'].sort(),
    );

    // Ops access as deployed: an admin API token (rule reloads), a metrics token for Prometheus.
    const ADMIN_TOKEN = `admin-${id}-0123456789abcdef0123456789`;
    const METRICS_TOKEN = `metrics-${id}-0123456789abcdef0123456789`;
    const metricsTokenFile = path.join(stateRoot, 'metrics-token');
    writeFileSync(metricsTokenFile, METRICS_TOKEN, { mode: 0o600 });
    // The rule file the loop reloads: a copy, broken later.
    const rulesFile = path.join(stateRoot, 'ruleset.json');
    copyFileSync(c.rulesPath, rulesFile);
    const config = { ...c, rulesPath: rulesFile };

    const app = await buildRiskLoopApp(config, logger);
    const card = JSON.parse(readFileSync(c.modelCard, 'utf8')) as { version: string; referenceDistributions: Record<string, { edges: number[]; proportions: number[] }> };
    let ops: OpsRuntime | undefined;
    const drift = new KafkaStreams(
      driftTopology(`${c.applicationId}-drift`, {}, {
        catalogue: app.catalogue,
        serdes: { decisions: app.serdes.decisions, alerts: app.serdes.alerts, modelReleases: app.serdes.modelReleases },
        seeded: new Map([[card.version, card.referenceDistributions]]),
        listener: (m) => ops?.decisions.observeDrift(m),
      }),
      { applicationId: `${c.applicationId}-drift`, connection: c.kafka, processingGuarantee: c.guarantee, stateDir: c.stateDir },
      { logger, errorHandlers: { deserialization: logAndContinue, processing: logAndContinue, production: logAndFail } },
    );
    const promPort = await freePort();
    const client = createKafkajsClient({ connection: c.kafka, clientId: `${id}-test`, logger });
    const producer = await client.producer();
    let prom: Prometheus | undefined;
    let browser: Browser | undefined;
    let releaseScoring: (() => void) | undefined;
    let driftClosed = false;
    try {
      await app.streams.start();
      await drift.start();
      ops = await startOps(
        { port: 0, auth: parseOpsAuthConfig({ tokens: [{ name: 'ci-admin', role: 'admin', token: ADMIN_TOKEN }], metricsToken: METRICS_TOKEN }) },
        {
          connection: c.kafka,
          applicationId: c.applicationId,
          catalogue: app.catalogue,
          serdes: app.serdes,
          streams: { loop: app.streams, drift },
          models: app.models,
          logger,
          loopCounters: app.counters,
          releases: app.releases,
          rules: { holder: app.rules, path: rulesFile },
          settings: { latencySloMs: 1, prometheusUrl: `http://127.0.0.1:${promPort}`, sampleIntervalMs: 1000, lagPollMs: 1000 },
        },
      );
      const base = `http://127.0.0.1:${ops.address.port}`;
      await app.streams.waitForRunning(120_000);
      await drift.waitForRunning(120_000);

      const promConfig = path.join(stateRoot, 'prometheus.yml');
      writeFileSync(
        promConfig,
        YAML.stringify({
          global: { scrape_interval: '1s', evaluation_interval: '1s' },
          rule_files: [shortRules],
          scrape_configs: [{ job_name: 'riskloop', authorization: { credentials_file: metricsTokenFile }, static_configs: [{ targets: [`127.0.0.1:${ops.address.port}`] }] }],
        }),
      );
      prom = await Prometheus.start(promPort, promConfig, path.join(stateRoot, 'tsdb'));
      const promStarted = Date.now();
      const p = prom;

      // Alerts as Prometheus sees them, polled all along: every alert ever pending or firing, and
      // whether its expression returned series at that moment.
      const seen = new Map<string, { states: Set<string>; exprSeries: number; firing: Record<string, string>[]; annotations: Record<string, string> }>();
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const now = Date.now() / 1000;
          const { alerts } = await p.api<{ alerts: PromAlert[] }>('/api/v1/alerts').catch(() => ({ alerts: [] as PromAlert[] }));
          for (const a of alerts) {
            const name = a.labels.alertname!;
            let s = seen.get(name);
            if (!s) seen.set(name, (s = { states: new Set(), exprSeries: 0, firing: [], annotations: a.annotations }));
            s.states.add(a.state);
            if (a.state === 'firing') s.firing.push(a.labels);
            if (s.exprSeries === 0) s.exprSeries = (await p.query(alertRules.find((r) => r.alert === name)!.expr, now).catch(() => [])).length;
          }
          await sleep(500);
        }
      })();
      const waitForAlert = async (name: string, timeoutMs: number, also?: (labels: Record<string, string>) => boolean): Promise<void> => {
        const deadline = Date.now() + timeoutMs;
        while (!seen.get(name)?.firing.some((l) => !also || also(l))) {
          if (Date.now() > deadline) throw new Error(`alert ${name} did not fire within ${timeoutMs} ms; seen: ${JSON.stringify([...seen].map(([n, s]) => [n, [...s.states], s.firing.slice(0, 3)]))}`);
          await sleep(250);
        }
      };

      // ---- traffic: three event-time hours far outside the training reference, then a tail -------
      const data = loopData(app.tokenizer, { accounts: 200, transactions: 830, invalidEvery: 40, chargebacks: 0, unknownChargebacks: 0 });
      const T0 = data.base;
      const perHour = 270;
      const txns: Transaction[] = data.transactions.map((r) => r.value);
      txns.forEach((t, i) => {
        const hour = Math.floor(i / perHour);
        // 3 hours of 270, then 20 at hour 3 + 15 min: stream time passes hour 2's end + grace.
        t.eventTime = hour < 3 ? T0 + hour * HOUR + Math.floor(((i % perHour) / perHour) * 55 * MIN) : T0 + 3 * HOUR + 15 * MIN + (i - 3 * perHour) * 1000;
        if (t.amountMinor > 0) t.amountMinor *= 40; // drift: every amount beyond training's range
      });
      const serdes = app.serdes;
      await produce(brokers(), app.catalogue.kyc.name, data.kyc.map((r) => ({ key: r.key, value: serdes.kyc.serialize(r.value), timestamp: String(r.value.updatedAt) })));
      await produce(brokers(), app.catalogue.deviceSignals.name, data.devices.map((r) => ({ key: r.key, value: serdes.deviceSignals.serialize(r.value), timestamp: String(r.value.eventTime) })));
      const sendTx = (rs: typeof data.transactions) =>
        produce(brokers(), app.catalogue.transactions.name, rs.map((r) => ({ key: r.key, value: serdes.transactions.serialize(r.value), timestamp: String(r.value.eventTime) })));
      const until = async (what: string, ok: () => boolean, timeoutMs = 120_000) => {
        const deadline = Date.now() + timeoutMs;
        while (!ok()) {
          if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms; summary: ${JSON.stringify(ops!.decisions.summary().totals)}; drift: ${JSON.stringify(ops!.decisions.driftHours().map((m) => [m.subject, new Date(m.windowStart).toISOString().slice(0, 13), m.samples, Number(m.psi.toFixed(2))]))}`);
          await sleep(250);
        }
      };
      // Hour by hour, each decided (and read by the drift monitor) before the next: the monitor's
      // stream time is the latest event time of any decision partition, so a later hour sent at once
      // would close the earlier ones before all their decisions arrived (late drops, by design).
      // Labels early (for the label charts to have a history): fraud chargebacks for every 5th decided transaction of hour 0.
      const chargebacks: Chargeback[] = data.transactions
        .slice(0, perHour)
        .filter((r) => data.validIds.has(r.value.transactionId))
        .filter((_, i) => i % 5 === 3)
        .map((r, i) => ({ chargebackId: `cb-${r.value.transactionId}`, transactionId: r.value.transactionId, accountId: r.value.accountId, reasonCode: '10.4', amountMinor: r.value.amountMinor, currency: 'EUR', reportedAt: T0 + 30 * MIN + i, fraud: true }));
      const sendLabels = () => produce(brokers(), app.catalogue.chargebacks.name, chargebacks.map((cb) => ({ key: app.tokenizer.accountToken(cb.accountId), value: serdes.chargebacks.serialize(cb), timestamp: String(cb.reportedAt) })));
      for (let h = 0; h < 3; h++) {
        await sendTx(data.transactions.slice(h * perHour, (h + 1) * perHour));
        const upTo = data.transactions.slice(0, (h + 1) * perHour).filter((r) => data.validIds.has(r.value.transactionId)).length;
        await until(`hour ${h} decided`, () => ops!.decisions.summary().totals.decisions >= upTo);
        if (h === 0) await sendLabels();
        await sleep(2000);
      }
      await sendTx(data.transactions.slice(3 * perHour));
      await until('every transaction decided', () => ops!.decisions.summary().totals.decisions >= data.validIds.size);

      // A shadow release (an annotation), a release with a wrong checksum (refused), a broken rule file (refused).
      const shadow = await releaseFromCard('models/sim-bootstrap-v1.card.json', 'shadow');
      await publishRelease(producer, serdes.modelReleases, app.catalogue.modelReleases.name, shadow);
      await publishRelease(producer, serdes.modelReleases, app.catalogue.modelReleases.name, { ...shadow, version: `broken-${id}`, sha256: '0'.repeat(64) });
      writeFileSync(rulesFile, '{"version": "broken", "rules": [{"id": "x"}]}');
      const reload = await fetch(`${base}/api/rules/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(reload.status).toBe(422);
      await until('both releases seen', () => app.releases.events().some((e) => e.version === shadow.version && e.outcome === 'applied') && app.releases.events().some((e) => e.version === `broken-${id}` && e.outcome === 'refused'), 60_000);

      await until('labels', () => ops!.decisions.summary().totals.labels >= chargebacks.length);
      await until('three drifted hours measured', () => ops!.decisions.driftHours().filter((m) => m.subject === 'txn.amount_minor' && m.psi > 0.2).length >= 3, 40_000);

      // ---- alerts from the traffic -------------------------------------------------------------
      await waitForAlert('RiskloopDriftPsiHigh', 60_000, (l) => l.subject === 'txn.amount_minor');
      await waitForAlert('RiskloopLatencySloBurn', 30_000);
      // The shortened rules look 20 s back, and the dead letters came with the first hours, in a
      // few bursts; the first burst of a series is no increase to rate(). A CI run waited here in
      // vain once (2026-12-04). Two more bursts of the invalid transactions, 4 s apart, make the
      // rate fresh and visible when the alert is waited for.
      const invalid = data.transactions.filter((r) => !data.validIds.has(r.value.transactionId));
      expect(invalid.length).toBeGreaterThan(10);
      for (let burst = 0; burst < 2; burst++) {
        await sendTx(invalid);
        await sleep(4000);
      }
      await waitForAlert('RiskloopDeadLetterRate', 30_000);
      await waitForAlert('RiskloopModelReleaseRefused', 30_000);
      await waitForAlert('RiskloopRuleSetRefused', 30_000);
      expect(seen.get('RiskloopDriftPsiHigh')!.annotations.runbook_url).toBe('docs/operations.md#alert-riskloopdriftpsihigh');

      // ---- every panel query returns series; Grafana's are among them --------------------------
      const evaluated = new Map<string, number>();
      const w = WINDOWS['15m'];
      for (const [name, q] of Object.entries(PANEL_QUERIES)) {
        // A series born a moment ago (the first labels) needs two scrapes before rate() has a value.
        let n = 0;
        for (const deadline = Date.now() + 20_000; n === 0 && Date.now() < deadline; await sleep(n === 0 ? 500 : 0)) n = (await p.query(promql(q, w))).length;
        expect(n, `panel query ${name}: ${q}`).toBeGreaterThan(0);
        evaluated.set(q, n);
      }
      const grafana = JSON.parse(readFileSync(GRAFANA, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[]; annotations: { list: { expr?: string }[] } };
      const grafanaQueries = [...grafana.panels.flatMap((pn) => pn.targets.map((t) => t.expr)), ...grafana.annotations.list.flatMap((a) => (a.expr ? [a.expr] : []))];
      expect(grafanaQueries.length).toBeGreaterThanOrEqual(10);
      for (const q of grafanaQueries) expect(evaluated.has(q), `Grafana query not evaluated: ${q}`).toBe(true);

      // ---- the dashboard's charts against Prometheus ---------------------------------------
      // At least 45 s of history (nine 5-second steps) for the charts to be compared on.
      await sleep(Math.max(0, promStarted + 45_000 - Date.now()));
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
      const page = await browser.newPage({ viewport: { width: 1300, height: 1000 }, extraHTTPHeaders: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      await page.goto(`${base}/`);
      await page.waitForFunction('window.riskloopCharts && window.riskloopCharts.series && window.riskloopCharts.series.source === "prometheus" && window.riskloopCharts.series.annotations.length >= 3', undefined, { timeout: 30_000 });
      const shown = (await page.evaluate(`(() => {
        const c = window.riskloopCharts;
        const plots = {};
        for (const [id, u] of Object.entries(c.plots)) plots[id] = { labels: u.series.map((s) => s.label), data: u.data.map((a) => Array.from(a)) };
        const cells = [...document.querySelectorAll('[data-testid="psi-cell"]')].map((r) => ({ subject: r.dataset.subject, hour: Number(r.dataset.hour), psi: r.dataset.psi === '' ? null : Number(r.dataset.psi) }));
        const annotations = [...document.querySelectorAll('[data-testid="annotation"]')].map((a) => ({ kind: a.dataset.kind, version: a.dataset.version, outcome: a.dataset.outcome }));
        return { series: c.series, plots, cells, annotations };
      })()`)) as { series: ChartData; plots: Record<string, { labels: string[]; data: (number | null)[][] }>; cells: { subject: string; hour: number; psi: number | null }[]; annotations: { kind: string; version: string; outcome: string }[] };
      const s = shown.series;
      expect(s.window).toBe('15m');
      // Every line of a time chart against query_range over the same start/end/step (the last point
      // is left out: a scrape may land between the page's query and this one).
      const compare = async (plotId: string, query: string, keyOf: (m: Record<string, string>) => string, scale = 1) => {
        const plot = shown.plots[plotId]!;
        expect(plot.data[0]).toEqual(s.times);
        const rows = await p.range(promql(query, w), s.start, s.end, s.step);
        expect(rows.length, `${plotId}: Prometheus has series`).toBeGreaterThan(0);
        let points = 0;
        for (const row of rows) {
          const idx = plot.labels.indexOf(keyOf(row.metric));
          expect(idx, `${plotId}: line ${keyOf(row.metric)} drawn (${plot.labels.join(', ')})`).toBeGreaterThan(0);
          const byTime = new Map(row.values!.map(([t, v]) => [t, Number(v)]));
          s.times.slice(0, -1).forEach((t, i) => {
            const want = byTime.get(t);
            const got = plot.data[idx]![i];
            if (want === undefined || !Number.isFinite(want)) expect(got ?? null, `${plotId} ${keyOf(row.metric)} @${t}`).toBeNull();
            else {
              expect(got, `${plotId} ${keyOf(row.metric)} @${t}`).toBeCloseTo(want * scale, 9);
              points++;
            }
          });
        }
        expect(points, `${plotId}: points compared`).toBeGreaterThanOrEqual(3);
      };
      await compare('chart-decisions', PANEL_QUERIES.decisionsByOutcome, (m) => m.outcome!);
      await compare('chart-latency', PANEL_QUERIES.latencyP99, () => 'p99', 1000);
      await compare('chart-latency', PANEL_QUERIES.latencyP50, () => 'p50', 1000);
      await compare('chart-dead-letters', PANEL_QUERIES.deadLettersByReason, (m) => m.reason!);
      await compare('chart-lag', PANEL_QUERIES.groupLag, (m) => `${m.topic!.slice(m.topic!.lastIndexOf('.') + 1)}[${m.partition}]`);
      await compare('chart-labels', PANEL_QUERIES.labelsBySource, (m) => m.label_source!);
      // The SLO line is the configured deadline.
      const latency = shown.plots['chart-latency']!;
      expect(latency.data[latency.labels.indexOf('SLO')]![0]).toBeCloseTo(1, 9);
      // Score bars: the window's live shares and the champion's reference, as Prometheus has them.
      const score = shown.plots['chart-score']!;
      const live = (await p.query(promql(PANEL_QUERIES.scoreLive, w), s.end)).filter((r) => r.metric.le !== '+Inf').sort((a, b) => Number(a.metric.le) - Number(b.metric.le));
      const liveTotal = Number((await p.query(promql(PANEL_QUERIES.scoreLive, w), s.end)).find((r) => r.metric.le === '+Inf')!.value![1]);
      expect(score.data[0]).toEqual(live.map((r) => Number(r.metric.le)));
      live.forEach((r, i) => expect(score.data[1]![i]).toBeCloseTo((Number(r.value![1]) - (i === 0 ? 0 : Number(live[i - 1]!.value![1]))) / liveTotal, 9));
      const reference = (await p.query(promql(PANEL_QUERIES.scoreReference, w), s.end)).sort((a, b) => Number(a.metric.le) - Number(b.metric.le));
      expect(reference.length).toBe(20);
      reference.forEach((r, i) => expect(score.data[2]![i]).toBeCloseTo(Number(r.value![1]) - (i === 0 ? 0 : Number(reference[i - 1]!.value![1])), 9));
      // Heat map: three hours per drifted feature; the last hour's cells are the PSI gauges Prometheus scraped.
      const hours = [...new Set(shown.cells.map((x) => x.hour))].sort((a, b) => a - b);
      expect(hours).toEqual([T0 / 1000, T0 / 1000 + 3600, T0 / 1000 + 7200]);
      const psiNow = await p.query(PANEL_QUERIES.psi);
      expect(psiNow.length).toBeGreaterThan(10);
      for (const g of psiNow) {
        const cell = shown.cells.find((x) => x.subject === g.metric.subject && x.hour === hours[2]);
        expect(cell?.psi, `heat map ${g.metric.subject}`).toBeCloseTo(Number(g.value![1]), 9);
      }
      expect(shown.cells.filter((x) => x.subject === 'txn.amount_minor').every((x) => x.psi! > 0.2)).toBe(true);
      // Annotations: the start-up rule set and champion, the shadow release, the refused one.
      expect(shown.annotations).toEqual(
        expect.arrayContaining([
          { kind: 'model', version: shadow.version, outcome: 'applied' },
          { kind: 'model', version: `broken-${id}`, outcome: 'refused' },
          { kind: 'rules', version: app.rules.current().version, outcome: 'refused' },
        ]),
      );
      mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // ---- a stalled loop: scoring hangs while transactions keep arriving ------------------------
      const gate = new Promise<void>((r) => (releaseScoring = r));
      const score0 = app.models.score.bind(app.models);
      app.models.score = async (...args) => {
        await gate;
        return score0(...args);
      };
      const more = loopData(app.tokenizer, { accounts: 200, transactions: 600, invalidEvery: 0, chargebacks: 0, unknownChargebacks: 0 });
      let next = 0;
      const feeding = (async () => {
        while (next < more.transactions.length && !seen.get('RiskloopDecisionsStalled')?.states.has('firing')) {
          const batch = more.transactions.slice(next, next + 15).map((r, i) => ({ ...r, value: { ...r.value, transactionId: `more-${next + i}`, eventTime: T0 + 4 * HOUR + (next + i) * 1000 } }));
          next += batch.length;
          await sendTx(batch);
          await sleep(1000);
        }
      })();
      await waitForAlert('RiskloopDecisionsStalled', 90_000);
      await feeding;
      releaseScoring?.();
      releaseScoring = undefined;

      // ---- a runtime that is not RUNNING ----------------------------------------------------
      await drift.close();
      driftClosed = true;
      await waitForAlert('RiskloopRuntimeNotRunning', 30_000, (l) => l.runtime === 'drift');

      polling = false;
      await poller;
      for (const r of alertRules) {
        const s2 = seen.get(r.alert!);
        expect(s2, `${r.alert} went pending/firing`).toBeDefined();
        expect(s2!.exprSeries, `${r.alert}: its expression returned series while it fired`).toBeGreaterThan(0);
        expect(s2!.annotations.runbook_url).toMatch(/^docs\/operations\.md#alert-/);
      }
    } finally {
      releaseScoring?.();
      await browser?.close();
      await prom?.stop();
      await producer.disconnect();
      await ops?.close();
      if (!driftClosed) await drift.close();
      await app.close();
    }
  }, 300_000);
});
