/**
 * The analysts' review queue on the ops server (issue 20.1, docs/review-queue.md): the page
 * (GET /review, ops/review.html, no build step) and its JSON API, mounted by ops/server.ts as a
 * route module:
 *
 *   GET  /review                           the page (queue, and a case with ?case=<id>)
 *   GET  /api/review/cases                 open cases, oldest first, with their SLA age
 *   GET  /api/review/cases/<id>            one case: reason codes with text, score, versions, the
 *                                          feature snapshot read out against the account's history,
 *                                          top contributions, the account's decisions and labels
 *   POST /api/review/cases/<id>/claim      claim (or renew one's own claim); 409 when someone else holds it
 *   POST /api/review/cases/<id>/release    give the claim back
 *   POST /api/review/next                  claim the oldest unclaimed case
 *   POST /api/review/cases/<id>/verdict    {"verdict":"FRAUD"|"LEGITIMATE","note":"…"} while holding the
 *                                          claim: publishes an AnalystOutcome, closes the case
 *
 * Who: reading needs any logged-in principal (as the dashboard); claims and verdicts need the
 * `analyst` or `admin` role and a real identity (never the open, loopback-only mode), because the
 * analyst's name is what the label and the audit trail carry. Every claim, release and verdict,
 * refused ones included, is an audit event (ops/auditEvents.ts) with the analyst as principal;
 * a verdict whose audit event cannot be written is not given (the case stays open).
 * CSRF: state changes are POST with a JSON body (a cross-site form cannot send one without a
 * preflight this server never answers) and are refused when the browser says another origin sent them.
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import getRawBody, { type RawBodyError } from 'raw-body';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import { reasonTexts } from '../processors/reasonText.js';
import type { RuleSet } from '../processors/ruleSet.js';
import { readSnapshot } from '../processors/snapshotReadout.js';
import type { AnalystOutcome, Decision } from '../schemas/types.js';
import { kafkajsConnectionOptions, type KafkaConnection } from '../topology/kafka/connection.js';
import { partitionForKey } from '../topology/murmur2.js';
import type { AuditInput } from './auditEvents.js';
import type { OpsPrincipal } from './opsAuth.js';
import type { ReviewCase, ReviewStore, ScreeningHitLike, Verdict } from './reviewQueueStore.js';

const PAGE = readFileSync(new URL('./review.html', import.meta.url), 'utf8');
const MAX_BODY = 8192;
const NOTE_MAX = 2000;

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

/** What the ops server tells a route module about the request. */
export interface OpsRequestContext {
  principal: OpsPrincipal | undefined;
  crossOrigin: boolean;
  from: string;
}

const VerdictBody = z.strictObject({
  verdict: z.enum(['FRAUD', 'LEGITIMATE', 'CONFIRMED_MATCH', 'FALSE_POSITIVE']),
  note: z.string().trim().min(1, 'a note saying why is required').max(NOTE_MAX),
});

/** Publishes a verdict's AnalystOutcome (Avro through the registry), keyed by account token. */
export interface OutcomePublisher {
  publish(outcome: AnalystOutcome): Promise<void>;
  close(): Promise<void>;
}

/** A kafkajs idempotent producer on the analyst-outcomes topic, on the key's murmur2 partition (as the SDK). */
export async function kafkaOutcomePublisher(opts: {
  connection: KafkaConnection;
  clientId: string;
  topic: string;
  partitions: number;
  serde: { serialize(v: AnalystOutcome): Buffer };
}): Promise<OutcomePublisher> {
  const producer: Producer = new Kafka({ clientId: opts.clientId, ...kafkajsConnectionOptions(opts.connection), logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return {
    async publish(o) {
      const key = Buffer.from(o.accountToken, 'utf8');
      await producer.send({ topic: opts.topic, acks: -1, messages: [{ key, value: opts.serde.serialize(o), partition: partitionForKey(key, opts.partitions), timestamp: String(o.decidedAt) }] });
    },
    close: () => producer.disconnect(),
  };
}

export interface ReviewQueueDeps {
  store: ReviewStore;
  outcomes: OutcomePublisher;
  /** The rule set in force: its descriptions are the rule codes' texts. */
  ruleSet: () => RuleSet;
  audit?: { record(input: AuditInput): Promise<unknown> };
  logger: Logger;
  now?: () => number;
}

class ReviewHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The roles that may claim cases and give verdicts. */
export const VERDICT_ROLES: ReadonlySet<string> = new Set(['analyst', 'admin']);

export function mayGiveVerdicts(p: OpsPrincipal): boolean {
  return p.via !== 'open' && VERDICT_ROLES.has(p.role);
}

function summary(c: ReviewCase, now: number): Record<string, unknown> {
  const base = { caseId: c.caseId, kind: c.kind, openedAt: c.openedAt, ageMs: now - c.openedAt, claimedBy: c.claimExpiresAt !== null && c.claimExpiresAt > now ? c.claimedBy : null, claimExpiresAt: c.claimExpiresAt, status: c.status };
  if (c.kind === 'decision') {
    const d = c.payload as Decision;
    return { ...base, transactionId: d.transactionId, eventTime: d.eventTime, score: d.score, reasonCodes: d.reasonCodes, amountMinor: d.features['txn.amount_minor'] ?? null, currency: d.facts['txn.currency'] ?? null };
  }
  const h = c.payload as ScreeningHitLike;
  return { ...base, transactionId: null, eventTime: h.screenedAt, score: h.score, reasonCodes: [`SCREENING_${h.listKind}`], amountMinor: null, currency: null };
}

export class ReviewQueueRoutes {
  private readonly now: () => number;

  constructor(private readonly deps: ReviewQueueDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Answers the review routes; false for any other path (the server goes on). */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, ctx: OpsRequestContext): Promise<boolean> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    if (path !== '/review' && path !== '/api/review/next' && !path.startsWith('/api/review/cases')) return false;
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    try {
      if (method === 'GET' && path === '/review') {
        req.resume();
        if (!ctx.principal) {
          res.writeHead(303, { location: '/login', 'cache-control': 'no-store' });
          res.end();
          return true;
        }
        res.writeHead(200, PAGE_HEADERS);
        res.end(PAGE);
        return true;
      }
      const who = ctx.principal;
      if (!who) {
        req.resume();
        throw new ReviewHttpError(401, 'UNAUTHORIZED', 'log in at /login or send "Authorization: Bearer <token>"');
      }
      if (method === 'GET' && path === '/api/review/cases') {
        req.resume();
        const now = this.now();
        const [cases, stats] = await Promise.all([this.deps.store.openCases(), this.deps.store.stats()]);
        json(200, {
          now,
          claimTtlMs: this.deps.store.config.claimTtlMs,
          slaMs: this.deps.store.config.slaMs,
          user: { name: who.name, role: who.role, mayGiveVerdicts: mayGiveVerdicts(who) },
          open: stats.open,
          oldestAgeMs: stats.oldestOpenedAt === null ? null : now - stats.oldestOpenedAt,
          cases: cases.map((c) => summary(c, now)),
        });
        return true;
      }
      const m = /^\/api\/review\/cases\/([^/]+)(?:\/(claim|release|verdict))?$/.exec(path);
      const idOf = (raw: string): string => {
        try {
          return decodeURIComponent(raw);
        } catch {
          throw new ReviewHttpError(400, 'BAD_CASE_ID', 'the case id is not valid percent-encoding');
        }
      };
      if (method === 'GET' && m && !m[2]) {
        req.resume();
        json(200, await this.caseView(idOf(m[1]!), who));
        return true;
      }
      if (method === 'POST' && (path === '/api/review/next' || (m && m[2]))) {
        if (ctx.crossOrigin) {
          req.resume();
          throw new ReviewHttpError(403, 'CROSS_ORIGIN', 'cross-origin posts are refused');
        }
        const body = await this.readJson(req);
        if (path === '/api/review/next') return json(200, await this.next(who, ctx.from)), true;
        const caseId = idOf(m![1]!);
        if (m![2] === 'claim') return json(200, await this.claim(caseId, who, ctx.from)), true;
        if (m![2] === 'release') return json(200, await this.release(caseId, who, ctx.from)), true;
        return json(200, await this.verdict(caseId, who, ctx.from, body)), true;
      }
      req.resume();
      throw new ReviewHttpError(404, 'NOT_FOUND', 'not found');
    } catch (err) {
      if (!(err instanceof ReviewHttpError)) throw err;
      if (!res.headersSent) json(err.status, { error: err.code, message: err.message, ...err.extra });
      else res.end();
      return true;
    }
  }

  private async readJson(req: http.IncomingMessage): Promise<unknown> {
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      req.resume();
      throw new ReviewHttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send a JSON body (content-type: application/json)');
    }
    const text = await getRawBody(req, { limit: MAX_BODY, encoding: 'utf-8' }).catch((err: unknown) => {
      throw (err as RawBodyError).type === 'entity.too.large' ? new ReviewHttpError(413, 'BODY_TOO_LARGE', 'body too large') : err;
    });
    if (text.trim() === '') return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ReviewHttpError(400, 'BAD_JSON', 'the body is not JSON');
    }
  }

  /** Audit events must exist for what was done: when one cannot be written, the action fails (503). */
  private async audit(input: AuditInput, mustRecord: boolean): Promise<void> {
    if (!this.deps.audit) return;
    try {
      await this.deps.audit.record(input);
    } catch (err) {
      this.deps.logger.error({ action: input.action, outcome: input.outcome, err: (err as Error).message }, 'audit event could not be written');
      if (mustRecord) throw new ReviewHttpError(503, 'AUDIT_UNAVAILABLE', 'the audit log cannot be written; nothing was done, try again later');
    }
  }

  private async requireAnalyst(who: OpsPrincipal, action: string, caseId: string, from: string): Promise<void> {
    if (mayGiveVerdicts(who)) return;
    await this.audit({ action, target: caseId, outcome: 'denied', principal: who.name, authenticated: who.via !== 'open', from, details: { role: who.role } }, false);
    throw new ReviewHttpError(403, 'FORBIDDEN', who.via === 'open' ? 'claims and verdicts need a logged-in analyst (configure RISKLOOP_OPS_USERS_FILE)' : 'claims and verdicts need the analyst (or admin) role');
  }

  private async caseView(caseId: string, who: OpsPrincipal): Promise<unknown> {
    const c = await this.deps.store.get(caseId);
    if (!c) throw new ReviewHttpError(404, 'NOT_FOUND', `no case ${caseId}`);
    const now = this.now();
    const [decisions, labels] = await Promise.all([this.deps.store.accountDecisions(c.accountToken), this.deps.store.accountLabels(c.accountToken)]);
    const base = {
      ...summary(c, now),
      accountToken: c.accountToken,
      claimedBy: c.claimedBy,
      verdict: c.verdict,
      note: c.note,
      closedBy: c.closedBy,
      closedAt: c.closedAt,
      claimTtlMs: this.deps.store.config.claimTtlMs,
      slaMs: this.deps.store.config.slaMs,
      user: { name: who.name, role: who.role, mayGiveVerdicts: mayGiveVerdicts(who) },
      account: { decisions: decisions.filter((d) => d.transactionId !== c.transactionId), labels },
    };
    if (c.kind === 'screening') return { ...base, screening: c.payload };
    const d = c.payload as Decision;
    const ruleSet = this.deps.ruleSet();
    return {
      ...base,
      decision: {
        decision: d.decision,
        score: d.score,
        modelVersion: d.modelVersion,
        ruleSetVersion: d.ruleSetVersion,
        featureSetVersion: d.featureSetVersion ?? null,
        decidedAt: d.decidedAt,
        eventTime: d.eventTime,
        shadowScores: d.shadowScores,
        facts: d.facts,
      },
      reasons: reasonTexts(d.reasonCodes, ruleSet, d.ruleSetVersion),
      readout: readSnapshot(d.features, d.facts),
      topContributions: d.topContributions,
      features: d.features,
    };
  }

  private claimAudit(who: OpsPrincipal, from: string) {
    return { principal: who.name, authenticated: true, from } as const;
  }

  private async claim(caseId: string, who: OpsPrincipal, from: string): Promise<unknown> {
    await this.requireAnalyst(who, 'review.claim', caseId, from);
    const r = await this.deps.store.claim(caseId, who.name);
    if (!r.ok) {
      await this.audit({ action: 'review.claim', target: caseId, outcome: 'denied', ...this.claimAudit(who, from), details: { reason: r.reason, ...(r.reason === 'claimed' ? { heldBy: r.case?.claimedBy } : {}) } }, false);
      if (r.reason === 'not-found') throw new ReviewHttpError(404, 'NOT_FOUND', `no case ${caseId}`);
      if (r.reason === 'closed') throw new ReviewHttpError(409, 'CASE_CLOSED', `case ${caseId} is closed (${r.case?.verdict} by ${r.case?.closedBy})`);
      throw new ReviewHttpError(409, 'CLAIMED', `case ${caseId} is claimed by ${r.case?.claimedBy} until ${new Date(r.case?.claimExpiresAt ?? 0).toISOString()}`, { claimedBy: r.case?.claimedBy, claimExpiresAt: r.case?.claimExpiresAt });
    }
    await this.audit({ action: 'review.claim', target: caseId, outcome: 'ok', ...this.claimAudit(who, from), details: { claimExpiresAt: new Date(r.case.claimExpiresAt!).toISOString() } }, true);
    return { caseId, claimedBy: r.case.claimedBy, claimExpiresAt: r.case.claimExpiresAt };
  }

  private async next(who: OpsPrincipal, from: string): Promise<unknown> {
    await this.requireAnalyst(who, 'review.claim', 'next', from);
    const c = await this.deps.store.claimNext(who.name);
    if (!c) return { caseId: null };
    await this.audit({ action: 'review.claim', target: c.caseId, outcome: 'ok', ...this.claimAudit(who, from), details: { claimExpiresAt: new Date(c.claimExpiresAt!).toISOString(), next: true } }, true);
    return { caseId: c.caseId, claimedBy: c.claimedBy, claimExpiresAt: c.claimExpiresAt };
  }

  private async release(caseId: string, who: OpsPrincipal, from: string): Promise<unknown> {
    await this.requireAnalyst(who, 'review.release', caseId, from);
    const released = await this.deps.store.release(caseId, who.name);
    await this.audit({ action: 'review.release', target: caseId, outcome: released ? 'ok' : 'denied', ...this.claimAudit(who, from) }, released);
    if (!released) throw new ReviewHttpError(409, 'NOT_CLAIMED', `you do not hold case ${caseId}`);
    return { caseId, released: true };
  }

  private async verdict(caseId: string, who: OpsPrincipal, from: string, body: unknown): Promise<unknown> {
    await this.requireAnalyst(who, 'review.verdict', caseId, from);
    const parsed = VerdictBody.safeParse(body);
    if (!parsed.success) throw new ReviewHttpError(400, 'BAD_VERDICT', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    const { verdict, note } = parsed.data;
    const decidedAt = this.now();
    let published = false;
    const r = await this.deps.store.giveVerdict(caseId, who.name, verdict as Verdict, note, async (c) => {
      const fits = c.kind === 'decision' ? verdict === 'FRAUD' || verdict === 'LEGITIMATE' : verdict === 'CONFIRMED_MATCH' || verdict === 'FALSE_POSITIVE';
      if (!fits) throw new ReviewHttpError(400, 'BAD_VERDICT', c.kind === 'decision' ? 'a transaction case takes FRAUD or LEGITIMATE' : 'a screening case takes CONFIRMED_MATCH or FALSE_POSITIVE');
      if (c.kind === 'decision') {
        const d = c.payload as Decision;
        await this.deps.outcomes.publish({ transactionId: d.transactionId, accountToken: d.accountToken, outcome: verdict as 'FRAUD' | 'LEGITIMATE', analystId: who.name, caseId: c.caseId, decidedAt });
        published = true;
      }
      // Inside the case's row lock: without its audit event the verdict is not given (the case stays open).
      await this.audit({ action: 'review.verdict', target: caseId, outcome: 'ok', ...this.claimAudit(who, from), details: { verdict, kind: c.kind, outcomePublished: published, noteLength: note.length } }, true);
    });
    if (!r.ok) {
      await this.audit({ action: 'review.verdict', target: caseId, outcome: 'denied', ...this.claimAudit(who, from), details: { reason: r.reason } }, false);
      if (r.reason === 'not-found') throw new ReviewHttpError(404, 'NOT_FOUND', `no case ${caseId}`);
      if (r.reason === 'closed') throw new ReviewHttpError(409, 'CASE_CLOSED', `case ${caseId} is already closed (${r.case?.verdict} by ${r.case?.closedBy})`);
      throw new ReviewHttpError(409, 'NOT_CLAIMED', `claim case ${caseId} first (or again: claims lapse after ${Math.round(this.deps.store.config.claimTtlMs / 60_000)} min)`);
    }
    this.deps.logger.info({ caseId, analyst: who.name, verdict }, 'review case closed');
    return { caseId, verdict, closedBy: r.case.closedBy, closedAt: r.case.closedAt, outcomePublished: published };
  }
}

/**
 * riskloop_review_queue_open_cases, riskloop_review_queue_claimed_cases and
 * riskloop_review_queue_oldest_case_age_seconds on the ops registry, read from the table at scrape
 * (every instance reports the same shared queue: alert on max(), not sum()).
 */
export function registerReviewMetrics(registry: Registry, store: Pick<ReviewStore, 'stats'>, logger: Logger, now: () => number = Date.now): void {
  let last: Promise<Awaited<ReturnType<ReviewStore['stats']>> | undefined> | undefined;
  // One query per scrape for the three gauges.
  const read = (): Promise<Awaited<ReturnType<ReviewStore['stats']>> | undefined> => {
    last ??= store
      .stats()
      .catch((err: unknown) => {
        logger.warn({ err: (err as Error).message }, 'review queue metrics: the database could not be read');
        return undefined;
      })
      .finally(() => setTimeout(() => (last = undefined), 0));
    return last;
  };
  new Gauge({
    name: 'riskloop_review_queue_open_cases',
    help: 'Open review cases (REVIEW decisions and screening hits without a verdict), shared by every ops instance.',
    registers: [registry],
    async collect() {
      const s = await read();
      if (s) this.set(s.open);
    },
  });
  new Gauge({
    name: 'riskloop_review_queue_claimed_cases',
    help: 'Open review cases an analyst holds an unexpired claim on.',
    registers: [registry],
    async collect() {
      const s = await read();
      if (s) this.set(s.claimed);
    },
  });
  new Gauge({
    name: 'riskloop_review_queue_oldest_case_age_seconds',
    help: 'Age of the oldest open review case (since its decision), in seconds; 0 when the queue is empty. The SLA alert reads this.',
    registers: [registry],
    async collect() {
      const s = await read();
      if (s) this.set(s.oldestOpenedAt === null ? 0 : Math.max(0, (now() - s.oldestOpenedAt) / 1000));
    },
  });
}
