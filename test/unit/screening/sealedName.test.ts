import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NameSealer, SealedNameError } from '../../../processors/screening/sealedName.js';

describe('sealed holder names (AES-256-GCM)', () => {
  const key = randomBytes(32);
  const sealer = new NameSealer(key);

  it('opens what it sealed for the same account; every seal differs (random IV); no clear text in it', () => {
    const a = sealer.seal('Zoë Müller-Lüdenscheidt', 'at_1');
    const b = sealer.seal('Zoë Müller-Lüdenscheidt', 'at_1');
    expect(a).not.toBe(b);
    expect(a).toMatch(new RegExp(`^v1\\.${sealer.keyId}\\.[A-Za-z0-9+/=]+$`));
    expect(Buffer.from(a.split('.')[2]!, 'base64').toString('latin1')).not.toContain('ller');
    expect(sealer.open(a, 'at_1')).toBe('Zoë Müller-Lüdenscheidt');
  });

  it('refuses another account (associated data) and tampering; another key gives null', () => {
    const sealed = sealer.seal('Ivan Petrov', 'at_1');
    expect(() => sealer.open(sealed, 'at_2')).toThrow(SealedNameError);
    const raw = Buffer.from(sealed.split('.')[2]!, 'base64');
    raw[raw.length - 1]! ^= 1;
    expect(() => sealer.open(`v1.${sealer.keyId}.${raw.toString('base64')}`, 'at_1')).toThrow(SealedNameError);
    expect(new NameSealer(randomBytes(32)).open(sealed, 'at_1')).toBeNull();
  });

  it('reads a key file of 64 hex digits or base64; a wrong size is refused without quoting the file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-key-'));
    const hex = path.join(dir, 'hex');
    const b64 = path.join(dir, 'b64');
    const bad = path.join(dir, 'bad');
    writeFileSync(hex, `${key.toString('hex')}\n`);
    writeFileSync(b64, key.toString('base64'));
    writeFileSync(bad, 'secret-but-short');
    expect(NameSealer.fromFile(hex).keyId).toBe(sealer.keyId);
    expect(NameSealer.fromFile(b64).keyId).toBe(sealer.keyId);
    expect(() => NameSealer.fromFile(bad)).toThrow(/expected 64 hex digits or base64 of 32 bytes/);
    expect(() => NameSealer.fromFile(bad)).not.toThrow(/secret/);
  });
});
