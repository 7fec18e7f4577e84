/** The review queue's settings from the environment (ops/reviewQueueRuntime.ts), read once with zod. */
import { describe, expect, it } from 'vitest';
import { readReviewQueueConfig } from '../../../ops/reviewQueueRuntime.js';
import { mayGiveVerdicts } from '../../../ops/reviewQueue.js';
import { reviewSchemaSql } from '../../../ops/reviewQueueStore.js';

const DB = 'postgres://riskloop:riskloop@127.0.0.1:5432/riskloop';

describe('review queue configuration', () => {
  it('runs with the audit database, with 15-minute claims and a 4-hour SLA by default', () => {
    expect(readReviewQueueConfig({})).toBeUndefined();
    expect(readReviewQueueConfig({ RISKLOOP_AUDIT_DB: DB })).toEqual({ connectionString: DB, claimTtlMs: 900_000, slaMs: 14_400_000 });
    expect(readReviewQueueConfig({ RISKLOOP_AUDIT_DB: DB, RISKLOOP_REVIEW_CLAIM_TTL_S: '60', RISKLOOP_REVIEW_SLA_S: '3600' })).toMatchObject({ claimTtlMs: 60_000, slaMs: 3_600_000 });
    expect(readReviewQueueConfig({ RISKLOOP_AUDIT_DB: DB, RISKLOOP_REVIEW_QUEUE: 'off' })).toBeUndefined();
  });

  it('refuses bad values, naming the variable and never the connection string', () => {
    expect(() => readReviewQueueConfig({ RISKLOOP_AUDIT_DB: 'postgres://u:secret@h/db', RISKLOOP_REVIEW_CLAIM_TTL_S: '-5' })).toThrow(/RISKLOOP_REVIEW_CLAIM_TTL_S/);
    expect(() => readReviewQueueConfig({ RISKLOOP_AUDIT_DB: 'postgres://u:secret@h/db', RISKLOOP_REVIEW_QUEUE: 'maybe' })).toThrow(/RISKLOOP_REVIEW_QUEUE/);
    let message = '';
    try {
      readReviewQueueConfig({ RISKLOOP_AUDIT_DB: 'postgres://u:secret@h/db', RISKLOOP_REVIEW_SLA_S: 'soon' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/RISKLOOP_REVIEW_SLA_S/);
    expect(message).not.toContain('secret');
  });

  it('lets analysts and admins give verdicts, never viewers nor the open mode', () => {
    expect(mayGiveVerdicts({ name: 'a', role: 'analyst', via: 'session' })).toBe(true);
    expect(mayGiveVerdicts({ name: 'a', role: 'admin', via: 'token' })).toBe(true);
    expect(mayGiveVerdicts({ name: 'v', role: 'viewer', via: 'session' })).toBe(false);
    expect(mayGiveVerdicts({ name: 'anonymous', role: 'admin', via: 'open' })).toBe(false);
  });

  it('grants the loop role UPDATE on cases but never DELETE', () => {
    const sql = reviewSchemaSql({ loopRole: 'riskloop', schema: 'public' });
    expect(sql).toContain('GRANT SELECT, INSERT, UPDATE ON public.review_cases TO riskloop;');
    expect(sql).toContain('GRANT SELECT, INSERT ON public.review_labels TO riskloop;');
    expect(sql).not.toMatch(/DELETE|TRUNCATE/);
  });
});
