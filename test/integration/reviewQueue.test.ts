/**
 * The review queue in a real browser during a real run (issue 20.1): the loop (bin/riskLoopApp.ts)
 * on the real broker and registry, the audit consumer and the review queue on PostgreSQL (tables
 * in a schema of the test's own, created by the owner role as stack/postgres.sh does), and the ops
 * server with users, driven by headless Chromium (playwright-core, as the dashboard test).
 *
 * Traffic: accounts whose KYC marks a politically exposed person get REVIEW (rule pep), one of
 * them twice; another account's payment is approved. The page must show exactly the REVIEW
 * decisions, oldest first. Two analysts (two browser contexts, two sessions): one claims a case,
 * the other is refused in the page; on a second case both claim at the same instant through the
 * API and exactly one wins. The first analyst's verdict (fraud, with a note) given in the page
 * appears on the analyst-outcomes topic (Avro via the registry, keyed by the account token, caseId
 * and analystId set) and, through the label join, as a training example with label 1 from
 * ANALYST, which the case page then lists among the account's labels. Claims and verdicts are in
 * the audit-events topic with the analysts' names; /metrics has the queue gauges. A viewer may not
 * claim. Screenshots for docs/review-queue.md go to docs/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { AuditLog, auditTopicName, ensureAuditTopic, parseAuditEvent } from '../../ops/auditEvents.js';
import { AuditConsumer, AuditSink } from '../../ops/auditSink.js';
import { hashPassword, parseOpsAuthConfig } from '../../ops/opsAuth.js';
import { startOps } from '../../ops/opsRuntime.js';
import { startReviewQueue } from '../../ops/reviewQueueRuntime.js';
import { EXAMPLES } from '../../schemas/examples.js';
import type { AnalystOutcome, Decision, KycRecord, ScreeningHit, TrainingExample } from '../../schemas/types.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { testAppConfig } from '../support/appConfig.js';
import { createAuditSchema, LOOP_DB } from '../support/auditDb.js';
import { brokers } from '../support/env.js';
import { uniq } from '../support/env.js';
import { produce, readTopic } from '../support/kafkaIo.js';
import { testTransaction } from '../support/riskLoopFixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-review-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const io = { out: () => undefined, err: (l: string) => console.error(l), env: process.env };
const PASSWORD = 'review-test-password-1';
const VIEWER_TOKEN = 'v'.repeat(40);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms; last: ${JSON.stringify(v)}`);
    await sleep(250);
    v = await read();
  }
  return v;
}

async function login(browser: Browser, base: string, name: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/review`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.fill('[data-testid="username"]', name);
  await page.fill('[data-testid="password"]', PASSWORD);
  await Promise.all([page.waitForURL(`${base}/`), page.click('[data-testid="login"]')]);
  return { context, page };
}

const rowsOf = (page: Page): Promise<{ caseId: string; age: string; claimedBy: string }[]> =>
  page.evaluate(`[...document.querySelectorAll('[data-testid="case-row"]')].map((tr) => ({ caseId: tr.dataset.caseId, age: tr.querySelector('[data-testid="case-age"]').textContent, claimedBy: tr.querySelector('[data-testid="case-claimed-by"]').textContent }))`) as Promise<{ caseId: string; age: string; claimedBy: string }[]>;

/** A POST from inside the page: the session cookie and the browser's own Sec-Fetch-Site go with it. */
const postFromPage = (page: Page, url: string, body: unknown): Promise<{ status: number; json: { error?: string; message?: string; claimedBy?: string } }> =>
  page.evaluate(
    `fetch(${JSON.stringify(url)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(JSON.stringify(body))} }).then(async (r) => ({ status: r.status, json: await r.json() }))`,
  ) as Promise<{ status: number; json: { error?: string; message?: string; claimedBy?: string } }>;

describe('review queue in the browser', () => {
  it('shows REVIEW decisions oldest first, keeps two analysts off one case, and turns a verdict into a label', { timeout: 240_000 }, async () => {
    const id = uniq('review');
    const c = testAppConfig(id, stateRoot);
    const logger = pino({ level: 'warn' });
    await ensureTopics(c, io, { keepHistory: true });
    const db = await createAuditSchema('review');
    const closers: (() => Promise<unknown>)[] = [async () => db.drop()];
    let browser: Browser | undefined;
    try {
      const app = await buildRiskLoopApp(c, logger);
      closers.unshift(() => app.close());
      const { catalogue, serdes, tokenizer } = app;
      await app.streams.start();

      // Privileged actions go to the audit topic, as in `riskloop run`.
      const auditTopic = auditTopicName(c.topicPrefix);
      const kafka = createKafkajsClient({ connection: c.kafka, clientId: `${id}-audit-events`, logger });
      const admin = await kafka.admin();
      await ensureAuditTopic(admin, auditTopic).finally(() => admin.disconnect());
      const auditProducer = await kafka.producer();
      closers.unshift(() => auditProducer.disconnect());
      const opsAudit = new AuditLog(auditProducer, auditTopic, { principal: 'test', authenticated: false, source: 'ops' });

      // The audit trail (the account's decisions on the case page) and the queue, in the test's schema.
      const sink = new AuditSink({ connectionString: LOOP_DB, table: db.decisionTable, privilegedTable: db.privilegedTable }, logger);
      await sink.init();
      const auditConsumer = new AuditConsumer({ connection: c.kafka, applicationId: id, catalogue, serdes, logger }, sink);
      await auditConsumer.start();
      closers.unshift(async () => {
        await auditConsumer.stop();
        await sink.close();
      });
      const review = await startReviewQueue({ store: { connectionString: LOOP_DB, schema: db.schema, claimTtlMs: 120_000 }, connection: c.kafka, applicationId: id, catalogue, serdes, ruleSet: () => app.rules.current(), audit: opsAudit, logger });
      closers.unshift(() => review.close());

      const hash = await hashPassword(PASSWORD);
      const ops = await startOps(
        { port: 0, auth: parseOpsAuthConfig({ users: [{ name: 'alice', role: 'analyst', password: hash }, { name: 'bob', role: 'analyst', password: hash }], tokens: [{ name: 'wallboard', role: 'viewer', token: VIEWER_TOKEN }] }) },
        { connection: c.kafka, applicationId: id, catalogue, serdes, streams: { loop: app.streams }, models: app.models, logger, audit: opsAudit, routes: [review.routes] },
      );
      closers.unshift(() => ops.close());
      review.registerMetrics(ops.registry);
      const base = `http://127.0.0.1:${ops.address.port}`;

      // Traffic: two PEP accounts (REVIEW by rule pep), one ordinary account (approved).
      const now = Date.now();
      const acc = { p1: tokenizer.accountToken('ACC-PEP-1'), p2: tokenizer.accountToken('ACC-PEP-2'), n: tokenizer.accountToken('ACC-PLAIN') };
      const kyc = (accountToken: string, pep: boolean): KycRecord => ({ ...EXAMPLES.KycRecord, accountToken, pep, watchlistHits: 0, riskTier: 'LOW', updatedAt: now - 3_600_000 });
      await produce(brokers(), catalogue.kyc.name, [
        { key: acc.p1, value: serdes.kyc.serialize(kyc(acc.p1, true)) },
        { key: acc.p2, value: serdes.kyc.serialize(kyc(acc.p2, true)) },
        { key: acc.n, value: serdes.kyc.serialize(kyc(acc.n, false)) },
      ]);
      await sleep(1500);
      const txn = (suffix: string, accountId: string, eventTime: number, amountMinor: number) => testTransaction({ transactionId: `${id}-${suffix}`, accountId, eventTime, amountMinor });
      const first = [{ key: acc.p1, value: serdes.transactions.serialize(txn('p1-a', 'ACC-PEP-1', now - 60_000, 4_200)) }];
      const second = [
        { key: acc.p2, value: serdes.transactions.serialize(txn('p2-a', 'ACC-PEP-2', now - 30_000, 12_000)) },
        { key: acc.p1, value: serdes.transactions.serialize(txn('p1-b', 'ACC-PEP-1', now - 20_000, 98_000)) },
        { key: acc.n, value: serdes.transactions.serialize(txn('n-a', 'ACC-PLAIN', now - 10_000, 1_500)) },
      ];
      // Two waves: the first case is decided (and opened) before the others.
      await produce(brokers(), catalogue.transactions.name, first);
      await waitFor('the first case', () => review.store.openCases(), (cs) => cs.length === 1);
      await produce(brokers(), catalogue.transactions.name, second);
      // A sanctions screening hit (engineer F's screening-hits topic) is a case too, opened last.
      const hit: ScreeningHit = { ...EXAMPLES.ScreeningHit, accountToken: acc.n, hitId: `${acc.n}|ofac:90001|59711a111547c521`, screenedAt: Date.now() + 5_000 };
      await produce(brokers(), catalogue.screeningHits.name, [{ key: acc.n, value: serdes.screeningHits.serialize(hit) }]);
      const hitCase = `screening:${hit.hitId}`;
      const decisions = (await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= 4, timeoutMs: 90_000 })).map((r) => serdes.decisions.deserialize(r.value!) as Decision);
      const byTxn = new Map(decisions.map((d) => [d.transactionId, d]));
      const reviewIds = [`${id}-p1-a`, `${id}-p2-a`, `${id}-p1-b`];
      for (const t of reviewIds) expect(byTxn.get(t)?.decision, t).toBe('REVIEW');
      expect(byTxn.get(`${id}-n-a`)?.decision).not.toBe('REVIEW');

      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
      const alice = await login(browser, base, 'alice');
      const bob = await login(browser, base, 'bob');

      // The queue: exactly the REVIEW decisions, oldest first (the first wave's case on top).
      await alice.page.goto(`${base}/review`);
      const rows = await waitFor('four cases in the page', () => rowsOf(alice.page), (r) => r.length === 4);
      expect(rows[0]!.caseId).toBe(`${id}-p1-a`);
      expect(rows[3]!.caseId).toBe(hitCase);
      expect(new Set(rows.map((r) => r.caseId))).toEqual(new Set([...reviewIds, hitCase]));
      const api = (await (await alice.context.request.get(`${base}/api/review/cases`)).json()) as { cases: { caseId: string; openedAt: number }[]; open: number };
      expect(api.cases.map((x) => x.caseId)).toEqual(rows.map((r) => r.caseId));
      expect(api.cases.map((x) => x.openedAt)).toEqual([...api.cases.map((x) => x.openedAt)].sort((a, b) => a - b));
      await alice.page.waitForSelector('[data-testid="queue-size"]:has-text("4")');
      expect(rows[0]!.age).toMatch(/^\d+ (s|min)$/);
      await alice.page.screenshot({ path: path.join(root, 'docs/review-queue.png'), fullPage: true });

      // The case page: reasons in words, versions, the read-out, the account's other decision.
      const target = `${id}-p1-b`;
      await alice.page.goto(`${base}/review?case=${encodeURIComponent(target)}`);
      await alice.page.waitForSelector('[data-testid="reason"][data-code="PEP_REVIEW"]');
      const pepRule = app.rules.current().rules.find((r) => r.reasonCode === 'PEP_REVIEW')!;
      expect(await alice.page.textContent('[data-testid="reason"][data-code="PEP_REVIEW"] [data-testid="reason-text"]')).toContain(pepRule.description);
      const d = byTxn.get(target)!;
      expect(await alice.page.textContent('[data-testid="model-version"]')).toBe(d.modelVersion ?? 'none');
      expect(await alice.page.textContent('[data-testid="rule-set-version"]')).toBe(d.ruleSetVersion);
      expect(await alice.page.textContent('[data-testid="decision"]')).toBe('REVIEW');
      const readout = (await alice.page.$$eval('[data-testid="readout-line"]', (els) => els.map((e) => e.textContent ?? ''))).join('\n');
      expect(readout).toContain("Amount 980.00 is 23× the account's 30-day mean of 42.00");
      expect(readout).toContain('politically exposed person');
      expect(await alice.page.$$eval('[data-testid="contribution"]', (els) => els.map((e) => e.getAttribute('data-feature')))).toEqual(d.topContributions.map((t) => t.feature));
      await alice.page.waitForSelector(`[data-testid="account-decision"]:has-text("${id}-p1-a")`);

      // Alice claims; Bob, on the same case, is refused and told who holds it.
      await alice.page.click('[data-testid="claim"]');
      await alice.page.waitForSelector('[data-testid="claim-status"]:has-text("You hold this case")');
      await bob.page.goto(`${base}/review?case=${encodeURIComponent(target)}`);
      await bob.page.waitForSelector('[data-testid="claim-status"]:has-text("Claimed by alice")');
      expect(await bob.page.isVisible('[data-testid="verdict-form"]')).toBe(false);
      const bobTry = await postFromPage(bob.page, `/api/review/cases/${encodeURIComponent(target)}/claim`, {});
      expect(bobTry).toMatchObject({ status: 409, json: { error: 'CLAIMED', claimedBy: 'alice' } });

      // Both at the same instant on another case: the database lets exactly one through.
      const race = `${id}-p2-a`;
      const [ra, rb] = await Promise.all([postFromPage(alice.page, `/api/review/cases/${encodeURIComponent(race)}/claim`, {}), postFromPage(bob.page, `/api/review/cases/${encodeURIComponent(race)}/claim`, {})]);
      expect([ra.status, rb.status].sort()).toEqual([200, 409]);
      const winner = ra.status === 200 ? 'alice' : 'bob';
      expect((await review.store.get(race))!.claimedBy).toBe(winner);

      // A viewer may look but not claim.
      const viewer = await fetch(`${base}/api/review/cases/${encodeURIComponent(race)}/claim`, { method: 'POST', headers: { authorization: `Bearer ${VIEWER_TOKEN}`, 'content-type': 'application/json' }, body: '{}' });
      expect(viewer.status).toBe(403);
      expect((await fetch(`${base}/api/review/cases`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } })).status).toBe(200);

      // Alice's verdict in the page.
      await alice.page.check('[data-testid="verdict-fraud"]');
      await alice.page.fill('[data-testid="note"]', 'Customer denies the 980.00 payment on the phone; card blocked.');
      await alice.page.screenshot({ path: path.join(root, 'docs/review-case.png'), fullPage: true });
      await alice.page.click('[data-testid="give-verdict"]');
      await alice.page.waitForSelector('[data-testid="message"]:has-text("Verdict given: FRAUD")');
      await alice.page.waitForSelector('[data-testid="case-status"]:has-text("closed: FRAUD by alice")');

      const outcomes = await readTopic(brokers(), catalogue.analystOutcomes.name, { done: (r) => r.length >= 1, timeoutMs: 30_000 });
      expect(outcomes).toHaveLength(1);
      const outcome = serdes.analystOutcomes.deserialize(outcomes[0]!.value!) as AnalystOutcome;
      expect(outcomes[0]!.key).toBe(acc.p1);
      expect(outcome).toMatchObject({ transactionId: target, accountToken: acc.p1, outcome: 'FRAUD', analystId: 'alice', caseId: target });

      const examples = (await readTopic(brokers(), catalogue.trainingExamples.name, { done: (r) => r.length >= 1, timeoutMs: 90_000 })).map((r) => serdes.trainingExamples.deserialize(r.value!) as TrainingExample);
      expect(examples.map((e) => [e.transactionId, e.label, e.labelSource, e.decision, e.labeledAt])).toEqual([[target, 1, 'ANALYST', 'REVIEW', outcome.decidedAt]]);

      // The label comes back to the case page (training-examples topic → review_labels).
      await waitFor('the label on the case page', async () => {
        await alice.page.reload();
        return alice.page.locator(`[data-testid="account-label"][data-transaction-id="${target}"]`).count();
      }, (n) => n === 1, 30_000);
      expect(await alice.page.textContent(`[data-testid="account-label"][data-transaction-id="${target}"]`)).toContain('fraud');
      await alice.page.screenshot({ path: path.join(root, 'docs/review-closed.png'), fullPage: true });

      // The screening case: a match verdict closes it and publishes no transaction label.
      expect(await postFromPage(bob.page, `/api/review/cases/${encodeURIComponent(hitCase)}/verdict`, { verdict: 'FALSE_POSITIVE', note: 'x' })).toMatchObject({ status: 409, json: { error: 'NOT_CLAIMED' } });
      expect((await postFromPage(bob.page, `/api/review/cases/${encodeURIComponent(hitCase)}/claim`, {})).status).toBe(200);
      expect(await postFromPage(bob.page, `/api/review/cases/${encodeURIComponent(hitCase)}/verdict`, { verdict: 'FRAUD', note: 'x' })).toMatchObject({ status: 400, json: { error: 'BAD_VERDICT' } });
      expect(await postFromPage(bob.page, `/api/review/cases/${encodeURIComponent(hitCase)}/verdict`, { verdict: 'FALSE_POSITIVE', note: 'Different date of birth and nationality than the list entry.' })).toMatchObject({ status: 200, json: { outcomePublished: false } });
      expect((await readTopic(brokers(), catalogue.analystOutcomes.name, { idleMs: 2000, timeoutMs: 10_000 })).length).toBe(1);

      // Closed means closed: neither a new claim nor a second verdict.
      expect(await postFromPage(bob.page, `/api/review/cases/${encodeURIComponent(target)}/claim`, {})).toMatchObject({ status: 409, json: { error: 'CASE_CLOSED' } });

      // The queue and /metrics now count two open cases.
      await alice.page.goto(`${base}/review`);
      await waitFor('two cases left', () => rowsOf(alice.page), (r) => r.length === 2 && !r.some((x) => x.caseId === target));
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^riskloop_review_queue_open_cases 2$/m);
      expect(metrics).toMatch(/^riskloop_review_queue_claimed_cases 1$/m);
      const oldest = Number(/^riskloop_review_queue_oldest_case_age_seconds (\S+)$/m.exec(metrics)?.[1]);
      expect(oldest).toBeGreaterThan(0);
      expect(oldest).toBeLessThan(600);
      // …and so does the dashboard.
      await alice.page.goto(`${base}/`);
      await alice.page.waitForSelector('[data-testid="review-open"]:has-text("2")', { timeout: 15_000 });
      expect(await alice.page.textContent('[data-testid="review-oldest"]')).toMatch(/^\d+ (s|min)$/);

      // Every claim and verdict, refused ones too, audited under the analyst's name.
      const audit = (await readTopic(brokers(), auditTopic, { done: (r) => r.map((x) => parseAuditEvent(x.value!)).some((e) => e.action === 'review.verdict'), timeoutMs: 30_000 })).map((r) => parseAuditEvent(r.value!));
      const seen = audit.filter((e) => e.action.startsWith('review.')).map((e) => `${e.action} ${e.outcome} ${e.principal} ${e.target}`);
      expect(seen).toEqual(expect.arrayContaining([`review.verdict denied bob ${hitCase}`, `review.verdict ok bob ${hitCase}`, `review.claim ok alice ${target}`, `review.claim denied bob ${target}`, `review.claim ok ${winner} ${race}`, `review.claim denied wallboard ${race}`, `review.verdict ok alice ${target}`, `review.claim denied bob ${target}`]));
      expect(audit.find((e) => e.action === 'review.verdict')).toMatchObject({ authenticated: true, source: 'ops', details: { verdict: 'FRAUD', outcomePublished: true } });
    } finally {
      await browser?.close().catch(() => undefined);
      for (const close of closers) await close().catch((err: unknown) => console.error('close failed', err));
    }
  });
});
