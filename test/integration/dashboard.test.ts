/**
 * The dashboard in a real browser during a real run. `riskloop run` runs as a child process (the
 * loop, the drift monitor and the ops server on an ephemeral port) against the real broker; the
 * test produces two waves of transactions with labels after each and a shadow model release in
 * between, while headless Chromium (Debian's, driven by playwright-core) shows the dashboard.
 * After each wave every number the page displays is read from the DOM and checked against what was
 * produced and against /metrics scraped at the same moment; between the waves they must have moved.
 * The run's log is checked for one line per dead letter and for state changes, rebalances and the
 * model switch, with no PAN or account id anywhere. A screenshot goes to test/artifacts/.
 * The ops server runs with a users file and a metrics token, as deployed: the browser logs in
 * through the form first, /metrics is scraped with the bearer token, and the audit-events topic
 * holds the run's ruleset.load and the browser's ops.login afterwards.
 *
 * Chromium missing is a failure, not a skip: `npm test` installs it first (stack/setup.sh, as root
 * with apt-get) or stops naming the command.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { readAppConfig } from '../../bin/config.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { publishRelease, releaseFromCard } from '../../bin/modelRelease.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import type { AnalystOutcome, Chargeback, Transaction } from '../../schemas/types.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { auditTopicName, parseAuditEvent, type AuditEvent } from '../../ops/auditEvents.js';
import { hashPassword } from '../../ops/opsAuth.js';
import { testAppEnv } from '../support/appConfig.js';
import { brokers, uniq } from '../support/env.js';
import { produce } from '../support/kafkaIo.js';
import { loopData } from '../support/loopData.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCREENSHOT = path.join(root, 'test/artifacts/dashboard.png');
const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-dashboard-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOUR = 3_600_000;
const MIN = 60_000;

// ---------------------------------------------------------------------------------------------
// /metrics

interface Series {
  labels: Record<string, string>;
  value: number;
}

function seriesOf(text: string, name: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    out.push({ labels: Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!])), value: Number(m[3]) });
  }
  return out;
}

function sumOf(text: string, name: string, match: Record<string, string> = {}): number {
  return seriesOf(text, name)
    .filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

// ---------------------------------------------------------------------------------------------
// The page

interface Dash {
  state: string;
  updated: string;
  /** data-testid → displayed text, for every single-value element. */
  v: Record<string, string>;
  models: { version: string; role: string }[];
  drift: { subject: string; model: string; psi: string; samples: string; hour: string }[];
  declines: { transactionId: string; reasons: string }[];
}

const VALUE_IDS = [
  'rate-approve', 'rate-review', 'rate-decline', 'approval-rate', 'decisions-total', 'decisions-approve', 'decisions-review', 'decisions-decline',
  'dead-letters', 'latency-p50', 'latency-p95', 'latency-p99', 'chargebacks', 'chargeback-rate', 'fraud-labels', 'fraud-rate', 'labels', 'rule-sets',
];

// A string, not a function: what runs in the page is exactly this, whatever the test transpiler adds.
const READ_DASHBOARD = `(() => {
  const text = (el) => (el ? el.textContent : null);
  const q = (id) => text(document.querySelector('[data-testid="' + id + '"]'));
  const v = {};
  for (const id of ${JSON.stringify(VALUE_IDS)}) v[id] = q(id);
  const cells = (tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent);
  return {
    state: q('state'),
    updated: q('updated'),
    v,
    models: [...document.querySelectorAll('[data-testid="model"]')].map((tr) => ({ version: tr.dataset.version, role: tr.dataset.role })),
    drift: [...document.querySelectorAll('[data-testid="drift-row"]')].map((tr) => {
      const c = cells(tr);
      return { subject: tr.dataset.subject, model: tr.dataset.model, psi: text(tr.querySelector('[data-testid="psi"]')), samples: c[3], hour: c[4] };
    }),
    declines: [...document.querySelectorAll('[data-testid="decline"]')].map((tr) => ({ transactionId: tr.dataset.transactionId, reasons: text(tr.querySelector('[data-testid="reasons"]')) })),
  };
})()`;

const readDashboard = (page: Page): Promise<Dash> => page.evaluate(READ_DASHBOARD) as Promise<Dash>;
const int = (d: Dash, id: string): number => {
  const s = d.v[id]!;
  expect(s, `${id} shows an integer`).toMatch(/^\d+$/);
  return Number(s);
};
const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;

/** Polls the page until `ok` holds; fails with the last reading otherwise. */
async function waitForDashboard(page: Page, what: string, ok: (d: Dash) => boolean, timeoutMs = 150_000): Promise<Dash> {
  const deadline = Date.now() + timeoutMs;
  let d = await readDashboard(page);
  while (!ok(d)) {
    if (Date.now() > deadline) throw new Error(`dashboard: ${what} not shown within ${timeoutMs} ms; last reading: ${JSON.stringify(d)}`);
    await sleep(250);
    d = await readDashboard(page);
  }
  return d;
}

/**
 * Every displayed number against /metrics scraped right after reading the page (the test waits
 * for quiet moments, so both see the same counts): equal for counts, rates recomputed from the
 * counters and formatted the same way, latency percentiles inside the histogram's buckets.
 */
function expectMatchesMetrics(d: Dash, m: string): void {
  const total = sumOf(m, 'riskloop_decisions_total');
  expect(int(d, 'decisions-total')).toBe(total);
  for (const o of ['APPROVE', 'REVIEW', 'DECLINE']) expect(int(d, `decisions-${o.toLowerCase()}`), o).toBe(sumOf(m, 'riskloop_decisions_total', { outcome: o }));
  expect(int(d, 'dead-letters')).toBe(sumOf(m, 'riskloop_dead_letters_total'));
  expect(d.v['approval-rate']).toBe(pct(sumOf(m, 'riskloop_decisions_total', { outcome: 'APPROVE' }) / total));
  // No corrections in this run, so the labels counter and the dashboard's label counts agree.
  const chargebacks = sumOf(m, 'riskloop_labels_total', { label_source: 'CHARGEBACK' });
  const fraud = sumOf(m, 'riskloop_labels_total', { label: '1' });
  expect(int(d, 'chargebacks')).toBe(chargebacks);
  expect(int(d, 'fraud-labels')).toBe(fraud);
  expect(int(d, 'labels')).toBe(sumOf(m, 'riskloop_labels_total'));
  expect(d.v['chargeback-rate']).toBe(pct(chargebacks / total));
  expect(d.v['fraud-rate']).toBe(pct(fraud / total));
  expect(d.v['rule-sets']).toBe([...new Set(seriesOf(m, 'riskloop_decisions_total').map((s) => s.labels.rule_set_version!))].sort().join(', '));

  // Per-second rates cover the last 10 s: never more than the decisions counted.
  const perSecond = ['approve', 'review', 'decline'].map((o) => Number(d.v[`rate-${o}`]));
  for (const r of perSecond) expect(r).toBeGreaterThanOrEqual(0);
  expect(perSecond.reduce((a, b) => a + b, 0) * 10).toBeLessThanOrEqual(total + 1.5);

  // p-quantiles over every decision so far (the dashboard keeps the last 5000; this run has fewer):
  // value v (ms) is the k-th smallest, k = ceil(q·n), so histogram buckets at or above v hold at
  // least k observations and buckets below v fewer than k.
  const buckets = seriesOf(m, 'riskloop_decision_pipeline_latency_seconds_bucket').filter((s) => s.labels.le !== '+Inf');
  const n = sumOf(m, 'riskloop_decision_pipeline_latency_seconds_count');
  expect(n).toBe(total);
  expect(n).toBeLessThanOrEqual(5000);
  for (const [p, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
    const shown = /^(\d+(?:\.\d+)?) ms$/.exec(d.v[`latency-${p}`]!);
    expect(shown, `latency-${p} shows ms`).not.toBeNull();
    const v = Number(shown![1]);
    const k = Math.ceil(q * n);
    for (const b of buckets) {
      const boundMs = Math.round(Number(b.labels.le) * 1e6) / 1e3;
      if (boundMs >= v) expect(b.value, `${p}=${v} ms: bucket le=${boundMs} ms`).toBeGreaterThanOrEqual(k);
      else expect(b.value, `${p}=${v} ms: bucket le=${boundMs} ms`).toBeLessThan(k);
    }
  }

  const info = seriesOf(m, 'riskloop_model_info').filter((s) => s.value === 1).map((s) => ({ version: s.labels.version!, role: s.labels.role! }));
  const byKey = (a: { version: string; role: string }, b: { version: string; role: string }) => `${a.role}${a.version}`.localeCompare(`${b.role}${b.version}`);
  expect([...d.models].sort(byKey)).toEqual(info.sort(byKey));

  const psi = seriesOf(m, 'riskloop_drift_psi');
  expect(d.drift).toHaveLength(psi.length);
  for (const row of d.drift) {
    const g = psi.find((s) => s.labels.subject === row.subject && s.labels.model_version === row.model);
    expect(g, `drift ${row.subject}`).toBeDefined();
    expect(row.psi).toBe(g!.value.toFixed(3));
  }

  const declines = sumOf(m, 'riskloop_decisions_total', { outcome: 'DECLINE' });
  expect(d.declines).toHaveLength(Math.min(25, declines));
  for (const row of d.declines) expect(row.reasons.length, `reason codes of ${row.transactionId}`).toBeGreaterThan(0);
}

// ---------------------------------------------------------------------------------------------
// `riskloop run` as a child process

class RunProcess {
  readonly lines: string[] = [];
  readonly logs: { msg: string; [k: string]: unknown }[] = [];
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.lines.push(line);
        if (line.startsWith('{')) {
          try {
            this.logs.push(JSON.parse(line) as { msg: string });
          } catch {
            // not a log line
          }
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
  }

  static start(env: Record<string, string>): RunProcess {
    return new RunProcess(spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bin/riskloop.ts'), 'run'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForLog(msg: string, timeoutMs: number): Promise<{ [k: string]: unknown }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find((l) => l.msg === msg);
      if (hit) return hit;
      if (!this.running) throw new Error(`riskloop run exited before logging "${msg}"; stderr: ${this.stderr.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`riskloop run did not log "${msg}" within ${timeoutMs} ms; stderr: ${this.stderr.slice(-3000)}`);
      await sleep(100);
    }
  }

  /** SIGTERM (a clean close), SIGKILL after 60 s. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

// ---------------------------------------------------------------------------------------------

describe('dashboard in headless Chromium during a run', () => {
  it('shows live numbers that move with the traffic and match /metrics; logs every dead letter', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: the dashboard test needs Debian's chromium (apt-get install -y chromium)`);
    const id = uniq('dash');
    // Ops access as deployed: an admin in a users file, a Prometheus token in a file.
    const PASSWORD = 'dashboard-admin-password';
    const METRICS_TOKEN = `metrics-${id}-0123456789abcdef`;
    const usersFile = path.join(stateRoot, `${id}-users.json`);
    const metricsTokenFile = path.join(stateRoot, `${id}-metrics-token`);
    writeFileSync(usersFile, JSON.stringify([{ name: 'dash-admin', role: 'admin', password: await hashPassword(PASSWORD) }]), { mode: 0o600 });
    writeFileSync(metricsTokenFile, `${METRICS_TOKEN}\n`, { mode: 0o600 });
    const env = testAppEnv(id, stateRoot, { RISKLOOP_METRICS_PORT: '0', LOG_LEVEL: 'info', RISKLOOP_OPS_USERS_FILE: usersFile, RISKLOOP_METRICS_TOKEN_FILE: metricsTokenFile });
    const c = readAppConfig(env);
    await ensureTopics(c, { out: () => undefined, err: (l: string) => console.error(l), env: process.env }, { keepHistory: true });
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const serdes = await createSerdes(new SchemaRegistry({ host: c.schemaRegistryUrl }), catalogue);
    const tokenizer = new Tokenizer(c.tokenizer);

    // 1640 transactions over 300 accounts, every 50th invalid, laid out on event time so the drift
    // monitor closes one hour per wave: main part inside an hour, then (once it is decided) a short
    // tail 15 minutes past the hour's end, which moves stream time beyond end + 10 min grace.
    const data = loopData(tokenizer, { accounts: 300, transactions: 1640, invalidEvery: 50, chargebacks: 0, unknownChargebacks: 0 });
    const T0 = data.base; // midnight UTC: hour A = [T0, T0+1h), hour B = [T0+1h, T0+2h)
    const segments = [
      { from: 0, to: 800, start: T0, end: T0 + HOUR - MIN },
      { from: 800, to: 820, start: T0 + HOUR + 15 * MIN, end: T0 + HOUR + 20 * MIN },
      { from: 820, to: 1620, start: T0 + HOUR + 20 * MIN, end: T0 + 2 * HOUR - MIN },
      { from: 1620, to: 1640, start: T0 + 2 * HOUR + 15 * MIN, end: T0 + 2 * HOUR + 20 * MIN },
    ];
    const txns: Transaction[] = data.transactions.map((r) => r.value);
    for (const s of segments) {
      for (let i = s.from; i < s.to; i++) txns[i]!.eventTime = s.start + Math.floor(((i - s.from) / (s.to - s.from)) * (s.end - s.start));
    }
    const part = (s: (typeof segments)[number]) => data.transactions.slice(s.from, s.to);
    const validIn = (s: (typeof segments)[number]) => part(s).filter((r) => data.validIds.has(r.value.transactionId));
    const invalidIn = (s: (typeof segments)[number]) => part(s).filter((r) => data.invalid.has(r.value.transactionId));
    const send = (rs: typeof data.transactions) =>
      produce(brokers(), catalogue.transactions.name, rs.map((r) => ({ key: r.key, value: serdes.transactions.serialize(r.value), timestamp: String(r.value.eventTime) })));

    // Labels: fraud chargebacks and analyst verdicts for decided transactions, and chargebacks for
    // transactions the loop never saw (dead letters).
    const chargebacksFor = (rs: typeof data.transactions, reportedAt: number): Chargeback[] =>
      rs.map((r, i) => ({ chargebackId: `cb-${r.value.transactionId}`, transactionId: r.value.transactionId, accountId: r.value.accountId, reasonCode: '10.4', amountMinor: r.value.amountMinor, currency: 'EUR', reportedAt: reportedAt + i, fraud: true }));
    const sendChargebacks = (cbs: Chargeback[]) =>
      produce(brokers(), catalogue.chargebacks.name, cbs.map((cb) => ({ key: tokenizer.accountToken(cb.accountId), value: serdes.chargebacks.serialize(cb), timestamp: String(cb.reportedAt) })));
    const sendOutcomes = (os: AnalystOutcome[]) =>
      produce(brokers(), catalogue.analystOutcomes.name, os.map((o) => ({ key: o.accountToken, value: serdes.analystOutcomes.serialize(o), timestamp: String(o.decidedAt) })));

    await produce(brokers(), catalogue.kyc.name, data.kyc.map((r) => ({ key: r.key, value: serdes.kyc.serialize(r.value), timestamp: String(r.value.updatedAt) })));
    await produce(brokers(), catalogue.deviceSignals.name, data.devices.map((r) => ({ key: r.key, value: serdes.deviceSignals.serialize(r.value), timestamp: String(r.value.eventTime) })));

    const run = RunProcess.start(env);
    let browser: Browser | undefined;
    const client = createKafkajsClient({ connection: c.kafka, clientId: 'dashboard-test', logger: pino({ level: 'error' }) });
    const producer = await client.producer();
    let exitCode: number | null = null;
    try {
      const listening = await run.waitForLog('ops server listening (/metrics, /healthz, /readyz, /)', 120_000);
      const base = `http://127.0.0.1:${listening.port as number}`;
      expect(listening.host).toBe('127.0.0.1');
      const readyBy = Date.now() + 120_000;
      while ((await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) !== 200) {
        if (Date.now() > readyBy || !run.running) throw new Error(`riskloop run not ready; stderr: ${run.stderr.slice(-3000)}`);
        await sleep(250);
      }
      // Without credentials: the page sends to the login form, the API and /metrics answer 401.
      expect((await fetch(`${base}/`, { redirect: 'manual' })).status).toBe(303);
      expect((await fetch(`${base}/api/summary`)).status).toBe(401);
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      const scrape = async () => {
        const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
        expect(res.status).toBe(200);
        return res.text();
      };

      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${base}/`);
      // Sent to the login form; a wrong password keeps it there, the right one opens the dashboard.
      expect(new URL(page.url()).pathname).toBe('/login');
      await page.fill('[data-testid="username"]', 'dash-admin');
      await page.fill('[data-testid="password"]', 'not-the-password');
      const [refused] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === `${base}/login`), page.click('[data-testid="login"]')]);
      expect(refused.status()).toBe(401);
      await page.waitForSelector('[data-testid="login-message"]:has-text("Wrong user name or password")', { timeout: 10_000 });
      await page.fill('[data-testid="username"]', 'dash-admin');
      await page.fill('[data-testid="password"]', PASSWORD);
      await Promise.all([page.waitForURL(`${base}/`), page.click('[data-testid="login"]')]);
      const session = (await page.context().cookies()).find((k) => k.name === 'riskloop_session');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
      // The page polls on its own: the clock it shows advances, and it starts at zero.
      const first = await waitForDashboard(page, 'first refresh', (d) => d.updated !== 'never', 15_000);
      expect(first.state).toMatch(/^ok · loop: RUNNING, drift: RUNNING$/);
      expect(first.v['decisions-total']).toBe('0');
      expect(await page.textContent('[data-testid="user"]')).toBe('dash-admin (admin)');
      await waitForDashboard(page, 'the clock moving', (d) => d.updated !== first.updated, 5_000);

      // ---- wave 1 -------------------------------------------------------------------------
      const [a1, t1, a2, t2] = segments as [(typeof segments)[0], (typeof segments)[0], (typeof segments)[0], (typeof segments)[0]];
      await send(part(a1));
      await waitForDashboard(page, 'wave 1 decisions', (d) => d.v['decisions-total'] === String(validIn(a1).length));
      // Decisions per second are live: something in the last 10 s.
      await waitForDashboard(page, 'a decision rate', (d) => ['approve', 'review', 'decline'].some((o) => Number(d.v[`rate-${o}`]) > 0), 10_000);
      await sleep(3000); // let the drift monitor read hour A before the tail closes it
      await send(part(t1));
      const decided1 = [...validIn(a1), ...validIn(t1)];
      // Labels only once every transaction they name is decided. A label whose decision snapshot
      // does not exist yet is, by design, a dead letter (UNKNOWN_TRANSACTION), and the loop's task
      // takes records from whichever input has them buffered: sent right after the tail, the
      // chargeback of the tail's last transaction was once processed before that transaction
      // (page: 20 chargebacks, 40 labels, 19 dead letters where 21, 41 and 18 were due).
      await waitForDashboard(page, 'wave 1 tail decisions', (d) => d.v['decisions-total'] === String(decided1.length));
      const cb1 = chargebacksFor(decided1.filter((_, i) => i % 40 === 3), T0 + HOUR + 30 * MIN);
      const verdicts1: AnalystOutcome[] = decided1
        .filter((_, i) => i % 40 === 17)
        .map((r, i) => ({ transactionId: r.value.transactionId, accountToken: r.key, outcome: i % 2 === 0 ? 'FRAUD' : 'LEGITIMATE', analystId: 'an-1', caseId: null, decidedAt: T0 + HOUR + 30 * MIN + i }));
      const unknown = chargebacksFor(decided1.slice(0, 2), T0 + HOUR + 31 * MIN).map((cb, i) => ({ ...cb, chargebackId: `cb-unknown-${i}`, transactionId: `tx-never-${i}` }));
      await sendChargebacks([...cb1, ...unknown]);
      await sendOutcomes(verdicts1);
      const fraud1 = cb1.length + verdicts1.filter((v) => v.outcome === 'FRAUD').length;
      const letters1 = invalidIn(a1).length + invalidIn(t1).length + unknown.length;
      const d1 = await waitForDashboard(
        page,
        'wave 1 settled (decisions, dead letters, labels, a closed drift hour)',
        (d) =>
          d.v['decisions-total'] === String(decided1.length) &&
          d.v['dead-letters'] === String(letters1) &&
          d.v.chargebacks === String(cb1.length) &&
          d.v['fraud-labels'] === String(fraud1) &&
          d.v.labels === String(cb1.length + verdicts1.length) &&
          d.drift.length > 0,
      );
      const m1 = await scrape();
      expectMatchesMetrics(d1, m1);
      const hourA = new Date(T0).toISOString().slice(0, 13);
      const hourB = new Date(T0 + HOUR).toISOString().slice(0, 13);
      expect(d1.drift.every((r) => r.hour === hourA)).toBe(true);
      expect(d1.drift.map((r) => r.subject)).toContain('__score__');
      expect(d1.models).toEqual([{ version: 'bootstrap-v1', role: 'champion' }]);
      expect(Number(d1.v['decisions-decline'])).toBeGreaterThan(0);
      for (const row of d1.declines) expect(data.validIds.has(row.transactionId)).toBe(true);

      // ---- a shadow model, then wave 2 ----------------------------------------------------
      await publishRelease(producer, serdes.modelReleases, catalogue.modelReleases.name, await releaseFromCard('models/sim-bootstrap-v1.card.json', 'shadow'));
      await waitForDashboard(page, 'the shadow model', (d) => d.models.some((m) => m.version === 'sim-bootstrap-v1' && m.role === 'shadow'), 60_000);
      await send(part(a2));
      await waitForDashboard(page, 'wave 2 decisions', (d) => d.v['decisions-total'] === String(decided1.length + validIn(a2).length));
      await waitForDashboard(page, 'a decision rate', (d) => ['approve', 'review', 'decline'].some((o) => Number(d.v[`rate-${o}`]) > 0), 10_000);
      await sleep(3000);
      await send(part(t2));
      const decided2 = [...validIn(a2), ...validIn(t2)];
      await waitForDashboard(page, 'wave 2 tail decisions', (d) => d.v['decisions-total'] === String(decided1.length + decided2.length));
      const cb2 = chargebacksFor(decided2.filter((_, i) => i % 25 === 5), T0 + 2 * HOUR + 30 * MIN);
      await sendChargebacks(cb2);
      const d2 = await waitForDashboard(
        page,
        'wave 2 settled (decisions, dead letters, labels, the next drift hour)',
        (d) =>
          d.v['decisions-total'] === String(decided1.length + decided2.length) &&
          d.v['dead-letters'] === String(letters1 + invalidIn(a2).length + invalidIn(t2).length) &&
          d.v.chargebacks === String(cb1.length + cb2.length) &&
          d.v['fraud-labels'] === String(fraud1 + cb2.length) &&
          d.drift.some((r) => r.subject === '__score__' && r.hour === hourB),
      );
      const m2 = await scrape();
      expectMatchesMetrics(d2, m2);

      // Everything moved between the readings.
      expect(int(d2, 'decisions-total') - int(d1, 'decisions-total')).toBe(decided2.length);
      expect(int(d2, 'decisions-approve')).toBeGreaterThan(int(d1, 'decisions-approve'));
      expect(int(d2, 'chargebacks')).toBeGreaterThan(int(d1, 'chargebacks'));
      expect(d2.v['chargeback-rate']).not.toBe(d1.v['chargeback-rate']);
      expect(d2.v['fraud-rate']).not.toBe(d1.v['fraud-rate']);
      expect(d2.updated).not.toBe(d1.updated);
      // Drift moved on to hour B (a feature with too few values in B keeps its hour-A row).
      expect(d2.drift.every((r) => r.hour === hourA || r.hour === hourB)).toBe(true);
      expect(d2.drift.filter((r) => r.hour === hourB).length).toBeGreaterThan(d2.drift.length / 2);
      expect(d2.drift.map((r) => r.psi)).not.toEqual(d1.drift.map((r) => r.psi));
      expect(d2.models).toContainEqual({ version: 'sim-bootstrap-v1', role: 'shadow' });
      expect(d2.models).toContainEqual({ version: 'bootstrap-v1', role: 'champion' });

      mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(existsSync(SCREENSHOT)).toBe(true);

      // ---- the run's log ------------------------------------------------------------------
      const logs = run.logs;
      const rejected = logs.filter((l) => l.msg === 'transaction rejected at ingress');
      for (const [txId, reason] of data.invalid) {
        const line = rejected.find((l) => l.transactionId === txId);
        expect(line, `log line for dead letter ${txId}`).toMatchObject({ event: 'dead-letter', reason, sourceTopic: catalogue.transactions.name });
        expect(typeof line!.partition).toBe('number');
        expect(typeof line!.offset).toBe('number');
      }
      const unknownLogged = logs.filter((l) => l.msg === 'label for no known decision snapshot');
      expect(unknownLogged.map((l) => l.transactionId).sort()).toEqual(['tx-never-0', 'tx-never-1']);
      expect(logs.filter((l) => l.event === 'dead-letter')).toHaveLength(int(d2, 'dead-letters'));
      expect(logs.some((l) => l.msg === 'state change' && l.app === id && l.to === 'RUNNING')).toBe(true);
      expect(logs.some((l) => l.msg === 'runtime state' && l.runtime === 'loop' && l.to === 'RUNNING')).toBe(true);
      expect(logs.some((l) => l.msg === 'runtime state' && l.runtime === 'drift' && l.to === 'RUNNING')).toBe(true);
      expect(logs.some((l) => l.msg === 'partitions assigned' && l.app === id)).toBe(true);
      expect(logs.some((l) => l.msg === 'model release applied' && l.version === 'sim-bootstrap-v1' && l.mode === 'shadow')).toBe(true);
      // Nothing past ingress holds a PAN or an account id, and the log is past ingress.
      const all = run.lines.join('\n');
      for (const pan of new Set(data.transactions.map((r) => r.value.pan))) expect(all.includes(pan), `PAN ${pan.slice(0, 6)}… in the log`).toBe(false);
      expect(all).not.toMatch(/ACC-\d{6}/);
      // Nor any ops secret.
      for (const secret of [PASSWORD, 'not-the-password', METRICS_TOKEN]) expect(all.includes(secret), 'an ops secret in the log').toBe(false);

      // The run's audit events: the rule set it loaded at start, the browser's two logins.
      const auditTopic = auditTopicName(c.topicPrefix);
      const events: AuditEvent[] = [];
      const reader = client.partitionReader({ readCommitted: true });
      await reader.read([{ topic: auditTopic, partition: 0, offset: 0 }], (b) => void events.push(...b.records.map((r) => parseAuditEvent(r.value!))));
      await reader.stop();
      expect(events.map((e) => `${e.source} ${e.action} ${e.outcome} ${e.principal}`)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^loop ruleset\.load ok os:/),
          'ops ops.login denied dash-admin',
          'ops ops.login ok dash-admin',
        ]),
      );
      expect(events.find((e) => e.action === 'ruleset.load')!.target).toMatch(/^\d{4}-\d{2}-\d{2}\.\d+$/);
    } finally {
      await browser?.close();
      await producer.disconnect();
      exitCode = await run.stop();
    }
    // SIGTERM closes the loop, the drift monitor and the ops server cleanly.
    expect(exitCode, `riskloop run exit code; stderr: ${run.stderr.slice(-2000)}`).toBe(0);
  }, 420_000);
});
