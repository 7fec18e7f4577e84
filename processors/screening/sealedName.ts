/**
 * The holder name, sealed for re-screening: AES-256-GCM (node:crypto) under a 32-byte key read
 * from a file, with the account token as associated data, so a sealed name copied to another
 * account's row does not open. Sealed text: "v1.<keyId>.<base64(iv | tag | ciphertext)>", keyId
 * the first 8 hex digits of SHA-256(key), so a row sealed under a key no longer configured is
 * recognised as such (and is re-screened at the account's next KYC update instead).
 *
 * Why keep the name at all: a new list version must re-screen every account now (a designation
 * applies the day it is published), not at each account's next KYC update months later. Why
 * sealed: the KYC table, its changelog and every topic past ingress must not hold a name in clear.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SealedNameError extends Error {
  override readonly name = 'SealedNameError';
}

export class NameSealer {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new SealedNameError(`the screening key must be 32 bytes (AES-256), got ${key.length}`);
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  /** A key file holds 64 hex digits or the base64 of 32 bytes (surrounding whitespace ignored). */
  static fromFile(file: string): NameSealer {
    const text = readFileSync(file, 'utf8').trim();
    const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
    // The message names the file, never its content.
    if (key.length !== 32) throw new SealedNameError(`${file}: expected 64 hex digits or base64 of 32 bytes`);
    return new NameSealer(key);
  }

  seal(name: string, accountToken: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(accountToken, 'utf8'));
    const body = Buffer.concat([cipher.update(name, 'utf8'), cipher.final()]);
    return `v1.${this.keyId}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  /** The name, or null when it was sealed under another key. Throws when the text was tampered with. */
  open(sealed: string, accountToken: string): string | null {
    const [v, keyId, b64] = sealed.split('.');
    if (v !== 'v1' || keyId === undefined || b64 === undefined) throw new SealedNameError('not a sealed name');
    if (keyId !== this.keyId) return null;
    const raw = Buffer.from(b64, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(accountToken, 'utf8'));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SealedNameError('sealed name does not open (wrong account or tampered)');
    }
  }
}
