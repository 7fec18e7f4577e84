/** The audit event format (ops/auditEvents.ts), the CLI principal rule, and the audit DDL's inputs. */
import { describe, expect, it } from 'vitest';
import { AuditLog, cliPrincipal, osPrincipal, parseAuditEvent } from '../../../ops/auditEvents.js';
import { auditSchemaSql } from '../../../ops/auditSchema.js';
import type { OutgoingRecord } from '../../../topology/kafka/client.js';

describe('audit events', () => {
  it('writes the shared JSON shape, keyed by the event id, and reads it back', async () => {
    const sent: OutgoingRecord[] = [];
    const log = new AuditLog({ send: async (r) => void sent.push(...r) }, 'p.audit-events', { principal: 'alice', authenticated: true, source: 'cli', from: 'host/1' });
    const e = await log.record({ action: 'model.release', target: 'v2', outcome: 'ok', details: { mode: 'shadow' } });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.topic).toBe('p.audit-events');
    expect(sent[0]!.key!.toString()).toBe(e.id);
    const back = parseAuditEvent(sent[0]!.value!);
    expect(back).toEqual(e);
    expect(Object.keys(back).sort()).toEqual(['action', 'at', 'authenticated', 'details', 'from', 'id', 'outcome', 'principal', 'source', 'target']);
    expect(back).toMatchObject({ principal: 'alice', authenticated: true, source: 'cli', from: 'host/1', action: 'model.release', target: 'v2', outcome: 'ok' });
    expect(new Date(back.at).toISOString()).toBe(back.at);
  });

  it('refuses what is not an event, naming fields and never values', async () => {
    expect(() => parseAuditEvent(Buffer.from('not json'))).toThrow('audit event is not JSON');
    const bad = { id: 'x', at: 'yesterday', principal: 'secret-looking-value', authenticated: 'yes', source: 'cli', from: '', action: 'Release', target: '', outcome: 'maybe', details: {} };
    let message = '';
    try {
      parseAuditEvent(Buffer.from(JSON.stringify(bad)));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/id: .*at: .*authenticated: .*action: .*outcome: /s);
    expect(message).not.toContain('secret-looking-value');
    const log = new AuditLog({ send: async () => undefined }, 't', { principal: 'p', authenticated: false, source: 'ops' });
    await expect(log.record({ action: 'not dotted', target: 't', outcome: 'ok' })).rejects.toThrow(/dotted verb/);
  });

  it('names the Kafka SASL user of a CLI command, else the OS user, unauthenticated', () => {
    expect(cliPrincipal({ sasl: { mechanism: 'SCRAM-SHA-512', username: 'release-bot' } })).toEqual({ principal: 'release-bot', authenticated: true });
    expect(cliPrincipal({})).toEqual({ principal: osPrincipal(), authenticated: false });
    // OAUTHBEARER carries a token, not a name riskloop has verified.
    expect(cliPrincipal({ sasl: { mechanism: 'OAUTHBEARER' } })).toEqual({ principal: osPrincipal(), authenticated: false });
    expect(osPrincipal()).toMatch(/^os:[^@]+@.+$/);
  });

  it('grants the loop role INSERT and SELECT only, behind an append-only trigger, and takes plain identifiers only', () => {
    const sql = auditSchemaSql({ loopRole: 'riskloop', schema: 'audit_x' });
    expect(sql).toContain('GRANT SELECT, INSERT ON audit_x.decision_audit, audit_x.privileged_audit TO riskloop;');
    expect(sql).toContain('REVOKE ALL ON audit_x.decision_audit, audit_x.privileged_audit FROM riskloop;');
    // The audit tables are append-only; only the review queue's cases may be updated (claims, verdicts), never deleted.
    expect(sql.split(';').filter((st) => /GRANT [^;]*(UPDATE|DELETE|TRUNCATE)/.test(st)).map((st) => st.trim())).toEqual(['GRANT SELECT, INSERT, UPDATE ON audit_x.review_cases TO riskloop']);
    expect(sql.match(/BEFORE UPDATE OR DELETE ON/g)).toHaveLength(2);
    expect(sql.match(/BEFORE TRUNCATE ON/g)).toHaveLength(2);
    expect(() => auditSchemaSql({ loopRole: 'riskloop; DROP TABLE x' })).toThrow();
    expect(() => auditSchemaSql({ loopRole: 'riskloop', schema: 'a-b' })).toThrow();
  });
});
