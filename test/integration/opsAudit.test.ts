/**
 * The audit sink on a real PostgreSQL (bash stack/postgres.sh up): decisions written twice (a
 * retry, then a replay in another batch split) leave one row per transaction, with the reason
 * codes, versions and feature snapshot queryable as SQL/JSONB. The tables are the owner's
 * (test/support/auditDb.ts); the sink writes as the loop's role. Fails, not skips, without Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditSink } from '../../ops/auditSink.js';
import type { Decision } from '../../schemas/types.js';
import { createAuditSchema, LOOP_DB, type AuditSchema } from '../support/auditDb.js';

let sink: AuditSink;
let db: AuditSchema;
let table: string;

function decision(i: number): Decision {
  return {
    transactionId: `tx-${i}`,
    accountToken: `acct-${i % 7}`,
    cardToken: `card-${i % 5}`,
    eventTime: Date.UTC(2026, 0, 1) + i * 1000,
    decidedAt: Date.UTC(2026, 0, 1) + i * 1000 + 3,
    decision: i % 10 === 0 ? 'DECLINE' : 'APPROVE',
    score: i / 1000,
    modelVersion: 'm1',
    shadowScores: [{ modelVersion: 'm2', score: 0.5 }],
    ruleSetVersion: 'r1',
    reasonCodes: i % 10 === 0 ? ['VELOCITY_HIGH', 'MODEL_DECLINE'] : [],
    features: { 'card.count_1h': i % 4, 'txn.amount_minor': 100 * i },
    facts: { 'kyc.status': 'VERIFIED' },
    topContributions: [],
    pipelineLatencyMs: 2.5,
  };
}

beforeAll(async () => {
  db = await createAuditSchema('audit_test');
  table = db.decisionTable;
  sink = new AuditSink({ connectionString: LOOP_DB, table, privilegedTable: db.privilegedTable, batchSize: 70 });
  try {
    await sink.init();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable for the audit test (${(err as Error).message}); start it with: bash stack/postgres.sh up`);
  }
});

afterAll(async () => {
  await sink?.close();
  await db?.drop();
});

describe('audit sink', () => {
  it('keeps one row per transaction however often decisions are written', async () => {
    const rows = Array.from({ length: 250 }, (_, i) => ({ decision: decision(i), partition: i % 6, offset: i }));
    expect(await sink.write(rows)).toBe(250);
    // A retry of the same batch, then a replay of a range with a changed decision: nothing new.
    expect(await sink.write(rows)).toBe(0);
    const replay = rows.slice(100, 180).map((r) => ({ decision: { ...r.decision, decision: 'REVIEW' as const, decidedAt: 0 } }));
    expect(await sink.write(replay)).toBe(0);
    expect(await sink.write([...rows.slice(240), { decision: decision(250) }])).toBe(1);

    const count = await sink.pool.query(`SELECT count(*)::int AS n, count(DISTINCT transaction_id)::int AS d FROM ${table}`);
    expect(count.rows[0]).toEqual({ n: 251, d: 251 });
    // The first decision recorded stays (DO NOTHING), not the replay's.
    const tx150 = await sink.pool.query(`SELECT decision, decided_at FROM ${table} WHERE transaction_id = 'tx-150'`);
    expect(tx150.rows[0].decision).toBe('DECLINE');
    expect((tx150.rows[0].decided_at as Date).getTime()).toBe(decision(150).decidedAt);

    // What an auditor asks: declines with a reason code, and a feature out of the JSONB snapshot.
    const declines = await sink.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE 'VELOCITY_HIGH' = ANY(reason_codes)`);
    expect(declines.rows[0].n).toBe(26); // tx-0, tx-10, …, tx-250
    const feature = await sink.pool.query(`SELECT (features->>'txn.amount_minor')::float AS amount, shadow_scores->0->>'modelVersion' AS shadow FROM ${table} WHERE transaction_id = 'tx-42'`);
    expect(feature.rows[0]).toEqual({ amount: 4200, shadow: 'm2' });
  });
});
