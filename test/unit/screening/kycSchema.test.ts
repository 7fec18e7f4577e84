/**
 * KycRecord.holderName is added the compatible way: records of producers that do not know it read
 * as null with the new schema, and consumers with the old schema read new records (BACKWARD and
 * FORWARD; the registry's BACKWARD check was also run against the stack's registry, see the report).
 */
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { EXAMPLES } from '../../../schemas/examples.js';
import { SCHEMAS } from '../../../schemas/load.js';

const current = avsc.Type.forSchema(SCHEMAS.KycRecord as avsc.Schema);
const withoutName = avsc.Type.forSchema({ ...SCHEMAS.KycRecord, fields: SCHEMAS.KycRecord.fields.filter((f) => f.name !== 'holderName') } as avsc.Schema);

describe('KycRecord.holderName', () => {
  it('is a nullable field with default null', () => {
    expect(SCHEMAS.KycRecord.fields.find((f) => f.name === 'holderName')).toMatchObject({ type: ['null', 'string'], default: null });
  });

  it('a record written without it reads as null; an old reader skips it', () => {
    const { holderName: _drop, ...old } = EXAMPLES.KycRecord;
    const oldBytes = withoutName.toBuffer(old);
    expect(current.fromBuffer(oldBytes, current.createResolver(withoutName))).toMatchObject({ ...old, holderName: null });
    const newBytes = current.toBuffer({ ...EXAMPLES.KycRecord, holderName: 'Ada Lovelace' });
    const read = withoutName.fromBuffer(newBytes, withoutName.createResolver(current)) as { [k: string]: unknown };
    expect(read).toMatchObject(old);
    expect(read.holderName).toBeUndefined();
  });
});
