/**
 * The review queue's cases in PostgreSQL (issue 20.1).
 *
 * Why PostgreSQL and not a state store or a compacted topic: the queue is worked by people through
 * any number of ops-server instances, and "no two analysts on one case" has to hold across them.
 * A claim is one conditional UPDATE (`… WHERE status = 'open' AND (claimed_by IS NULL OR claim
 * expired OR claimed_by = me)`): the row lock makes two concurrent claims serialise, and the second
 * finds the condition false, whichever instance it came through. "Take the next case" uses
 * `SELECT … FOR UPDATE SKIP LOCKED`, as Marble's case workers do, so two analysts asking at once
 * get two different cases instead of waiting on each other. PostgreSQL is already the audit
 * trail's store (ops/auditSink.ts), so no new service.
 *
 * Cases are filled by ReviewCaseConsumer (ops/reviewQueueConsumer.ts) from the decisions topic
 * (REVIEW, not duplicates) and from screening hits; idempotently: the case id is the transaction id
 * (or `screening:<hitId>`), and `INSERT … ON CONFLICT DO NOTHING` absorbs redeliveries and
 * replays, so a case already claimed or closed is never reopened by one.
 *
 * Labels seen on the training-examples topic are kept per account for the case page (the
 * account's recent decisions come from the audit trail's decision_audit when it is in the same
 * database, else from the account's cases).
 *
 * The tables are created by the owner role (ops/auditSchema.ts appends reviewSchemaSql); unlike the
 * audit tables they are not append-only: the loop's role may UPDATE cases (claims, verdicts), but
 * never DELETE them: a closed case stays, with who closed it, why and when.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Decision } from '../schemas/types.js';

const TableName = z.string().regex(/^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/, 'a plain lower-case identifier, optionally schema-qualified');

export const ReviewStoreConfig = z.object({
  connectionString: z.string().min(1),
  /** Schema of the review tables (and of decision_audit, read for the account history); default public. */
  schema: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('public'),
  /** A claim lapses this long after it was taken (or renewed): an analyst gone to lunch does not hold a case. */
  claimTtlMs: z.number().int().positive().default(15 * 60_000),
  /** How long a case may wait for a verdict (the page colours cases past it; alert on the oldest-age gauge). */
  slaMs: z.number().int().positive().default(4 * 3_600_000),
});
export type ReviewStoreConfigInput = z.input<typeof ReviewStoreConfig>;

/** The DDL, idempotent; applied by the tables' owner (ops/auditSchema.ts). */
export function reviewSchemaSql(opts: { loopRole: string; schema: string }): string {
  const s = opts.schema;
  const cases = `${s}.review_cases`;
  const labels = `${s}.review_labels`;
  TableName.parse(cases);
  return `CREATE TABLE IF NOT EXISTS ${cases} (
  case_id          text PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('decision', 'screening')),
  transaction_id   text,
  account_token    text NOT NULL,
  opened_at        timestamptz NOT NULL,
  event_time       timestamptz,
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  claimed_by       text,
  claimed_at       timestamptz,
  claim_expires_at timestamptz,
  verdict          text,
  note             text,
  closed_by        text,
  closed_at        timestamptz,
  source_partition integer,
  source_offset    bigint,
  recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS review_cases_open ON ${cases} (opened_at) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS review_cases_account ON ${cases} (account_token, opened_at);
CREATE TABLE IF NOT EXISTS ${labels} (
  transaction_id text NOT NULL,
  labeled_at     timestamptz NOT NULL,
  account_token  text NOT NULL,
  label          smallint NOT NULL,
  label_source   text NOT NULL,
  is_correction  boolean NOT NULL,
  decision       text NOT NULL,
  PRIMARY KEY (transaction_id, labeled_at, label_source)
);
CREATE INDEX IF NOT EXISTS review_labels_account ON ${labels} (account_token, labeled_at);
REVOKE ALL ON ${cases}, ${labels} FROM PUBLIC;
REVOKE ALL ON ${cases}, ${labels} FROM ${opts.loopRole};
GRANT SELECT, INSERT, UPDATE ON ${cases} TO ${opts.loopRole};
GRANT SELECT, INSERT ON ${labels} TO ${opts.loopRole};
`;
}

/** What a screening case needs of a ScreeningHit (schemas/ScreeningHit.avsc). */
export interface ScreeningHitLike {
  hitId: string;
  accountToken: string;
  listEntryId: string;
  listEntryName: string;
  matchedName: string;
  listKind: string;
  programs: string[];
  score: number;
  threshold: number;
  formula: string;
  trigger: string;
  listVersion: string;
  screenedAt: number;
}

export type CaseStatus = 'open' | 'closed';
export type Verdict = 'FRAUD' | 'LEGITIMATE' | 'CONFIRMED_MATCH' | 'FALSE_POSITIVE';

export interface ReviewCase {
  caseId: string;
  kind: 'decision' | 'screening';
  transactionId: string | null;
  accountToken: string;
  openedAt: number;
  eventTime: number | null;
  /** The Decision (kind decision) or the ScreeningHit (kind screening), as consumed. */
  payload: Decision | ScreeningHitLike;
  status: CaseStatus;
  claimedBy: string | null;
  claimedAt: number | null;
  claimExpiresAt: number | null;
  verdict: Verdict | null;
  note: string | null;
  closedBy: string | null;
  closedAt: number | null;
}

export interface LabelRow {
  transactionId: string;
  accountToken: string;
  label: 0 | 1;
  labelSource: string;
  labeledAt: number;
  isCorrection: boolean;
  decision: string;
}

export interface AccountDecision {
  transactionId: string;
  eventTime: number;
  decision: string;
  score: number | null;
  reasonCodes: string[];
  amountMinor: number | null;
}

export type ClaimResult = { ok: true; case: ReviewCase } | { ok: false; reason: 'not-found' | 'closed' | 'claimed'; case?: ReviewCase };
export type CloseResult = { ok: true; case: ReviewCase } | { ok: false; reason: 'not-found' | 'closed' | 'not-claimed'; case?: ReviewCase };

interface CaseRow {
  case_id: string;
  kind: 'decision' | 'screening';
  transaction_id: string | null;
  account_token: string;
  opened_at: Date;
  event_time: Date | null;
  payload: Decision | ScreeningHitLike;
  status: CaseStatus;
  claimed_by: string | null;
  claimed_at: Date | null;
  claim_expires_at: Date | null;
  verdict: Verdict | null;
  note: string | null;
  closed_by: string | null;
  closed_at: Date | null;
}

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());

function toCase(r: CaseRow): ReviewCase {
  return {
    caseId: r.case_id,
    kind: r.kind,
    transactionId: r.transaction_id,
    accountToken: r.account_token,
    openedAt: r.opened_at.getTime(),
    eventTime: ms(r.event_time),
    payload: r.payload,
    status: r.status,
    claimedBy: r.claimed_by,
    claimedAt: ms(r.claimed_at),
    claimExpiresAt: ms(r.claim_expires_at),
    verdict: r.verdict,
    note: r.note,
    closedBy: r.closed_by,
    closedAt: ms(r.closed_at),
  };
}

export const SCREENING_CASE_PREFIX = 'screening:';

export class ReviewStore {
  readonly config: z.output<typeof ReviewStoreConfig>;
  readonly pool: pg.Pool;
  private readonly cases: string;
  private readonly labels: string;
  private readonly decisionAudit: string;
  private hasDecisionAudit = false;

  constructor(config: ReviewStoreConfigInput, logger?: Logger) {
    this.config = ReviewStoreConfig.parse(config);
    this.pool = new pg.Pool({ connectionString: this.config.connectionString, max: 4 });
    this.pool.on('error', (err) => logger?.warn({ err: err.message, database: this.where() }, 'review database connection lost'));
    this.cases = `${this.config.schema}.review_cases`;
    this.labels = `${this.config.schema}.review_labels`;
    this.decisionAudit = `${this.config.schema}.decision_audit`;
  }

  /** Host, port and database only: the connection string may hold a password. */
  where(): string {
    const url = new URL(this.config.connectionString);
    return `${url.hostname}:${url.port || 5432}${url.pathname}`;
  }

  /** Checks the tables exist and the role may work them; says how to create them otherwise. */
  async init(): Promise<void> {
    try {
      for (const [table, needs] of [[this.cases, ['SELECT', 'INSERT', 'UPDATE']], [this.labels, ['SELECT', 'INSERT']]] as const) {
        const found = await this.pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
        if (!found.rows[0]?.t) throw new Error(`table ${table} is missing: create it as the owner role (bash stack/postgres.sh up, or node --import tsx ops/auditSchema.ts | psql)`);
        for (const p of needs) {
          const ok = await this.pool.query<{ ok: boolean }>('SELECT has_table_privilege($1, $2) AS ok', [table, p]);
          if (!ok.rows[0]?.ok) throw new Error(`this role may not ${p} ${table} (ops/auditSchema.ts grants SELECT, INSERT, UPDATE on review_cases)`);
        }
      }
      const audit = await this.pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [this.decisionAudit]);
      this.hasDecisionAudit = Boolean(audit.rows[0]?.t);
    } catch (err) {
      throw new Error(`review database ${this.where()} not usable: ${(err as Error).message}`);
    }
  }

  /** New REVIEW decisions as open cases; returns how many were new. */
  async addDecisions(rows: readonly { decision: Decision; partition?: number; offset?: number }[]): Promise<number> {
    if (rows.length === 0) return 0;
    const params: unknown[] = [];
    const tuples = rows.map(({ decision: d, partition, offset }) => {
      const b = params.length;
      params.push(d.transactionId, d.transactionId, d.accountToken, new Date(d.decidedAt), new Date(d.eventTime), JSON.stringify(d), partition ?? null, offset ?? null);
      return `($${b + 1}, 'decision', $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8})`;
    });
    const res = await this.pool.query(
      `INSERT INTO ${this.cases} (case_id, kind, transaction_id, account_token, opened_at, event_time, payload, source_partition, source_offset) VALUES ${tuples.join(',')} ON CONFLICT (case_id) DO NOTHING`,
      params,
    );
    return res.rowCount ?? 0;
  }

  /** New screening hits as open cases (one per hit id); returns how many were new. */
  async addScreeningHits(rows: readonly { hit: ScreeningHitLike; partition?: number; offset?: number }[]): Promise<number> {
    if (rows.length === 0) return 0;
    const params: unknown[] = [];
    const tuples = rows.map(({ hit, partition, offset }) => {
      const b = params.length;
      params.push(`${SCREENING_CASE_PREFIX}${hit.hitId}`, hit.accountToken, new Date(hit.screenedAt), JSON.stringify(hit), partition ?? null, offset ?? null);
      return `($${b + 1}, 'screening', NULL, $${b + 2}, $${b + 3}, NULL, $${b + 4}, $${b + 5}, $${b + 6})`;
    });
    const res = await this.pool.query(
      `INSERT INTO ${this.cases} (case_id, kind, transaction_id, account_token, opened_at, event_time, payload, source_partition, source_offset) VALUES ${tuples.join(',')} ON CONFLICT (case_id) DO NOTHING`,
      params,
    );
    return res.rowCount ?? 0;
  }

  async addLabels(rows: readonly LabelRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const params: unknown[] = [];
    const tuples = rows.map((l) => {
      const b = params.length;
      params.push(l.transactionId, new Date(l.labeledAt), l.accountToken, l.label, l.labelSource, l.isCorrection, l.decision);
      return `(${[1, 2, 3, 4, 5, 6, 7].map((j) => `$${b + j}`).join(',')})`;
    });
    const res = await this.pool.query(
      `INSERT INTO ${this.labels} (transaction_id, labeled_at, account_token, label, label_source, is_correction, decision) VALUES ${tuples.join(',')} ON CONFLICT DO NOTHING`,
      params,
    );
    return res.rowCount ?? 0;
  }

  /** Open cases, oldest first (the SLA clock starts when the loop decided). */
  async openCases(limit = 200): Promise<ReviewCase[]> {
    const res = await this.pool.query<CaseRow>(`SELECT * FROM ${this.cases} WHERE status = 'open' ORDER BY opened_at, case_id LIMIT $1`, [limit]);
    return res.rows.map(toCase);
  }

  /** Queue size and the oldest open case's opening time (for /metrics). */
  async stats(): Promise<{ open: number; oldestOpenedAt: number | null; claimed: number }> {
    const res = await this.pool.query<{ open: string; oldest: Date | null; claimed: string }>(
      `SELECT count(*) AS open, min(opened_at) AS oldest, count(*) FILTER (WHERE claimed_by IS NOT NULL AND claim_expires_at > now()) AS claimed FROM ${this.cases} WHERE status = 'open'`,
    );
    const r = res.rows[0]!;
    return { open: Number(r.open), oldestOpenedAt: ms(r.oldest), claimed: Number(r.claimed) };
  }

  async get(caseId: string): Promise<ReviewCase | undefined> {
    const res = await this.pool.query<CaseRow>(`SELECT * FROM ${this.cases} WHERE case_id = $1`, [caseId]);
    return res.rows[0] ? toCase(res.rows[0]) : undefined;
  }

  /**
   * Claims a case for `analyst` (or renews the analyst's own claim). One conditional UPDATE: of two
   * analysts claiming at once, the second waits on the row lock and then finds it claimed.
   */
  async claim(caseId: string, analyst: string): Promise<ClaimResult> {
    const res = await this.pool.query<CaseRow>(
      `UPDATE ${this.cases} SET claimed_by = $2, claimed_at = now(), claim_expires_at = now() + make_interval(secs => $3)
        WHERE case_id = $1 AND status = 'open' AND (claimed_by IS NULL OR claimed_by = $2 OR claim_expires_at <= now())
        RETURNING *`,
      [caseId, analyst, this.config.claimTtlMs / 1000],
    );
    if (res.rows[0]) return { ok: true, case: toCase(res.rows[0]) };
    const current = await this.get(caseId);
    if (!current) return { ok: false, reason: 'not-found' };
    return { ok: false, reason: current.status === 'closed' ? 'closed' : 'claimed', case: current };
  }

  /** Claims the oldest open case nobody holds: SKIP LOCKED, so concurrent callers get different cases. */
  async claimNext(analyst: string): Promise<ReviewCase | undefined> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const next = await client.query<{ case_id: string }>(
        `SELECT case_id FROM ${this.cases} WHERE status = 'open' AND (claimed_by IS NULL OR claim_expires_at <= now()) ORDER BY opened_at, case_id LIMIT 1 FOR UPDATE SKIP LOCKED`,
      );
      const id = next.rows[0]?.case_id;
      if (id === undefined) {
        await client.query('COMMIT');
        return undefined;
      }
      const res = await client.query<CaseRow>(
        `UPDATE ${this.cases} SET claimed_by = $2, claimed_at = now(), claim_expires_at = now() + make_interval(secs => $3) WHERE case_id = $1 RETURNING *`,
        [id, analyst, this.config.claimTtlMs / 1000],
      );
      await client.query('COMMIT');
      return toCase(res.rows[0]!);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Gives a claim back (the analyst leaves the case open for others). */
  async release(caseId: string, analyst: string): Promise<boolean> {
    const res = await this.pool.query(
      `UPDATE ${this.cases} SET claimed_by = NULL, claimed_at = NULL, claim_expires_at = NULL WHERE case_id = $1 AND status = 'open' AND claimed_by = $2`,
      [caseId, analyst],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /**
   * Closes a case with a verdict, only while `analyst` holds an unexpired claim on it. `publish`
   * runs inside the row lock, before the commit: the verdict reaches the analyst-outcomes topic
   * before the case shows closed, and when publishing fails the case stays open (claimed) and the
   * analyst can try again. A crash between the publish and the commit leaves the case open with its
   * outcome already published; giving the verdict again publishes it again, which the label join
   * treats as the same label (same transaction, same outcome).
   */
  async giveVerdict(caseId: string, analyst: string, verdict: Verdict, note: string, publish: (c: ReviewCase) => Promise<void>): Promise<CloseResult> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const locked = await client.query<CaseRow>(`SELECT * FROM ${this.cases} WHERE case_id = $1 FOR UPDATE`, [caseId]);
      const row = locked.rows[0];
      const fail = async (reason: 'not-found' | 'closed' | 'not-claimed'): Promise<CloseResult> => {
        await client.query('ROLLBACK');
        return row ? { ok: false, reason, case: toCase(row) } : { ok: false, reason };
      };
      if (!row) return await fail('not-found');
      if (row.status === 'closed') return await fail('closed');
      if (row.claimed_by !== analyst || row.claim_expires_at === null || row.claim_expires_at.getTime() <= Date.now()) return await fail('not-claimed');
      await publish(toCase(row));
      const res = await client.query<CaseRow>(
        `UPDATE ${this.cases} SET status = 'closed', verdict = $2, note = $3, closed_by = $4, closed_at = now() WHERE case_id = $1 RETURNING *`,
        [caseId, verdict, note, analyst],
      );
      await client.query('COMMIT');
      return { ok: true, case: toCase(res.rows[0]!) };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** The account's latest decisions: from decision_audit when present, else its cases. */
  async accountDecisions(accountToken: string, limit = 20): Promise<AccountDecision[]> {
    if (this.hasDecisionAudit) {
      const res = await this.pool.query<{ transaction_id: string; event_time: Date; decision: string; score: number | null; reason_codes: string[]; amount: number | null }>(
        `SELECT transaction_id, event_time, decision, score, reason_codes, (features->>'txn.amount_minor')::double precision AS amount FROM ${this.decisionAudit} WHERE account_token = $1 ORDER BY event_time DESC LIMIT $2`,
        [accountToken, limit],
      );
      return res.rows.map((r) => ({ transactionId: r.transaction_id, eventTime: r.event_time.getTime(), decision: r.decision, score: r.score, reasonCodes: r.reason_codes, amountMinor: r.amount }));
    }
    const res = await this.pool.query<CaseRow>(`SELECT * FROM ${this.cases} WHERE account_token = $1 AND kind = 'decision' ORDER BY event_time DESC LIMIT $2`, [accountToken, limit]);
    return res.rows.map((r) => {
      const d = r.payload as Decision;
      return { transactionId: d.transactionId, eventTime: d.eventTime, decision: d.decision, score: d.score, reasonCodes: d.reasonCodes, amountMinor: d.features['txn.amount_minor'] ?? null };
    });
  }

  async accountLabels(accountToken: string, limit = 20): Promise<LabelRow[]> {
    const res = await this.pool.query<{ transaction_id: string; account_token: string; label: number; label_source: string; labeled_at: Date; is_correction: boolean; decision: string }>(
      `SELECT * FROM ${this.labels} WHERE account_token = $1 ORDER BY labeled_at DESC LIMIT $2`,
      [accountToken, limit],
    );
    return res.rows.map((r) => ({ transactionId: r.transaction_id, accountToken: r.account_token, label: r.label === 1 ? 1 : 0, labelSource: r.label_source, labeledAt: r.labeled_at.getTime(), isCorrection: r.is_correction, decision: r.decision }));
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}
