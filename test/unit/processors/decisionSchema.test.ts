/**
 * Decision.duplicate (idempotency.ts) is a FULL_TRANSITIVE-compatible change of the decisions
 * topic's schema: a new boolean with a default, so readers of the previous version read new
 * records (they ignore the field) and new readers read old records (duplicate = false).
 */
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { compatibilityProblems } from '../../../registry/compatibility.js';
import { EXAMPLES, SCHEMAS } from '../../../schemas/index.js';

describe('Decision.duplicate', () => {
  const current = SCHEMAS.Decision as { fields: { name: string }[] };
  const previous = { ...current, fields: current.fields.filter((f) => f.name !== 'duplicate') };

  it('is compatible both ways with the schema before it', () => {
    const newType = avro.Type.forSchema(current as avro.schema.RecordType);
    const oldType = avro.Type.forSchema(previous as avro.schema.RecordType);
    expect(current.fields.map((f) => f.name)).toContain('duplicate');
    expect(compatibilityProblems('FULL_TRANSITIVE', newType, [{ version: 1, id: 1, type: oldType }])).toEqual([]);
  });

  it('reads as false from a record written without it, and old readers skip it', () => {
    const newType = avro.Type.forSchema(current as avro.schema.RecordType);
    const oldType = avro.Type.forSchema(previous as avro.schema.RecordType);
    const { duplicate: _d, ...old } = EXAMPLES.Decision;
    const fromOld = newType.createResolver(oldType);
    expect((newType.fromBuffer(oldType.toBuffer(old), fromOld) as { duplicate: boolean }).duplicate).toBe(false);
    const fromNew = oldType.createResolver(newType);
    const read = oldType.fromBuffer(newType.toBuffer({ ...EXAMPLES.Decision, duplicate: true }), fromNew) as { transactionId: string };
    expect(read.transactionId).toBe(EXAMPLES.Decision.transactionId);
    expect(read).not.toHaveProperty('duplicate');
  });
});
