/**
 * Tokenizer: token formats, key handling and card-key rotation.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Tokenizer, accountTokenOf, binOf, cardTokenKeyId, decodeSecret, last4Of } from '../../../processors/tokenizer.js';

const ACCOUNT_KEY_HEX = 'aa'.repeat(32);
const KEY_2024 = Buffer.alloc(32, 1).toString('base64');
const KEY_2025 = Buffer.alloc(48, 2).toString('base64url');
const PAN = '5105105105105100';

function tokenizer(current = 'k2024', keys = [{ id: 'k2024', key: KEY_2024 }]) {
  return new Tokenizer({ accountTokenKey: ACCOUNT_KEY_HEX, cardKeys: keys, currentCardKeyId: current });
}

/** The documented formula, spelled out independently of the implementation. */
function expectedMac(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url').slice(0, 32);
}

describe('Tokenizer', () => {
  it('makes account tokens at_<base64url(HMAC-SHA256)[:32]> under the account key, as producers do', () => {
    const t = tokenizer();
    const token = t.accountToken('ACC-0042-7781');
    expect(token).toBe(`at_${expectedMac(Buffer.from(ACCOUNT_KEY_HEX, 'hex'), 'ACC-0042-7781')}`);
    expect(token).toMatch(/^at_[A-Za-z0-9_-]{32}$/);
    // The producer SDK needs only the account key.
    expect(accountTokenOf(Buffer.from(ACCOUNT_KEY_HEX, 'hex'), 'ACC-0042-7781')).toBe(token);
    expect(t.accountToken('ACC-0042-7782')).not.toBe(token);
    // Byte for byte: no trimming or case folding.
    expect(t.accountToken('acc-0042-7781')).not.toBe(token);
  });

  it('makes card tokens ct_<keyId>_<mac> under the current key and keeps BIN and last 4', () => {
    const t = tokenizer();
    const { token, keyId } = t.cardToken(PAN);
    expect(keyId).toBe('k2024');
    expect(token).toBe(`ct_k2024_${expectedMac(Buffer.from(KEY_2024, 'base64'), PAN)}`);
    expect(cardTokenKeyId(token)).toBe('k2024');
    expect(token).not.toContain(PAN);
    expect(binOf(PAN)).toBe('510510');
    expect(last4Of(PAN)).toBe('5100');
  });

  it('resolves a token made under an old key after rotation, as long as the key is configured', () => {
    const before = tokenizer('k2024', [{ id: 'k2024', key: KEY_2024 }]);
    const oldToken = before.cardToken(PAN).token;

    const after = tokenizer('k2025', [
      { id: 'k2024', key: KEY_2024 },
      { id: 'k2025', key: KEY_2025 },
    ]);
    const fresh = after.cardToken(PAN);
    expect(fresh.keyId).toBe('k2025');
    expect(fresh.token).not.toBe(oldToken);
    expect(after.cardTokenWith(PAN, 'k2024')).toBe(oldToken);
    expect(after.isCardTokenOf(PAN, oldToken)).toBe(true);
    expect(after.isCardTokenOf(PAN, fresh.token)).toBe(true);
    expect(after.isCardTokenOf('5555555555554444', oldToken)).toBe(false);

    // Once the old key is dropped, its tokens no longer resolve.
    const retired = tokenizer('k2025', [{ id: 'k2025', key: KEY_2025 }]);
    expect(retired.isCardTokenOf(PAN, oldToken)).toBe(false);
    expect(() => retired.cardTokenWith(PAN, 'k2024')).toThrow(/unknown card-token key id "k2024"/);
  });

  it('never puts the PAN into an error', () => {
    try {
      tokenizer().cardTokenWith(PAN, 'nope');
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toContain(PAN);
    }
  });

  it('decodes keys as hex first, then base64/base64url', () => {
    expect(decodeSecret('00ff')).toEqual(Buffer.from([0, 255]));
    expect(decodeSecret(Buffer.from('hello world').toString('base64'))).toEqual(Buffer.from('hello world'));
    expect(decodeSecret('not a key!')).toBeUndefined();
  });

  it('validates its config without echoing the keys', () => {
    const short = Buffer.alloc(31, 9).toString('base64');
    const attempt = (input: ConstructorParameters<typeof Tokenizer>[0]) => {
      try {
        new Tokenizer(input);
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    const tooShort = attempt({ accountTokenKey: short, cardKeys: [{ id: 'k', key: KEY_2024 }], currentCardKeyId: 'k' });
    expect(tooShort).toMatch(/accountTokenKey: must be hex or base64 of at least 32 bytes/);
    expect(tooShort).not.toContain(short);
    expect(attempt({ accountTokenKey: ACCOUNT_KEY_HEX, cardKeys: [{ id: 'k', key: KEY_2024 }], currentCardKeyId: 'other' })).toMatch(
      /currentCardKeyId: is not one of cardKeys/,
    );
    expect(
      attempt({
        accountTokenKey: ACCOUNT_KEY_HEX,
        cardKeys: [
          { id: 'k', key: KEY_2024 },
          { id: 'k', key: KEY_2025 },
        ],
        currentCardKeyId: 'k',
      }),
    ).toMatch(/duplicate card key id/);
    expect(attempt({ accountTokenKey: ACCOUNT_KEY_HEX, cardKeys: [{ id: 'k_1', key: KEY_2024 }], currentCardKeyId: 'k_1' })).toMatch(/key ids/);
    expect(attempt({ accountTokenKey: ACCOUNT_KEY_HEX, cardKeys: [{ id: 'k', key: ACCOUNT_KEY_HEX }], currentCardKeyId: 'k' })).toMatch(
      /must differ from the account-token key/,
    );
    expect(attempt({ accountTokenKey: ACCOUNT_KEY_HEX, cardKeys: [], currentCardKeyId: 'k' })).not.toBe('accepted');
  });

  it('pseudonymizes identifiers stably, distinctly and apart from account tokens', () => {
    const t = tokenizer();
    const a = t.identifierPseudonym('txn-5105105105105100');
    expect(a).toMatch(/^id_[A-Za-z0-9_-]{32}$/);
    expect(t.identifierPseudonym('txn-5105105105105100')).toBe(a);
    expect(t.identifierPseudonym('txn-5105105105105101')).not.toBe(a);
    expect(a.slice(3)).not.toBe(t.accountToken('txn-5105105105105100').slice(3));
  });
});

describe('Tokenizer key material', () => {
  it('is invisible to JSON, util.inspect and pino-style serialisation', async () => {
    const { inspect } = await import('node:util');
    const t = new Tokenizer({ accountTokenKey: ACCOUNT_KEY_HEX, previousAccountTokenKeys: ['bb'.repeat(32)], cardKeys: [{ id: 'k2024', key: KEY_2024 }], currentCardKeyId: 'k2024' });
    const shown = [JSON.stringify(t), inspect(t, { depth: 5, showHidden: true }), JSON.stringify({ tokenizer: t })].join('\n');
    for (const secret of ['aa'.repeat(8), 'bb'.repeat(8), Buffer.from(KEY_2024, 'base64').toString('hex').slice(0, 16), '170,170,170', '187,187,187', '1,1,1,1']) expect(shown).not.toContain(secret);
    expect(shown).toContain('k2024');
  });

  it('accepts an account key under a previous key only when configured, and keeps the digest key apart from tokens', () => {
    const oldKey = 'bb'.repeat(32);
    const t = new Tokenizer({ accountTokenKey: ACCOUNT_KEY_HEX, previousAccountTokenKeys: [oldKey], cardKeys: [{ id: 'k2024', key: KEY_2024 }], currentCardKeyId: 'k2024' });
    const old = accountTokenOf(Buffer.from(oldKey, 'hex'), 'ACC-1');
    expect(t.isAccountKeyOf('ACC-1', t.accountToken('ACC-1'))).toBe(true);
    expect(t.isAccountKeyOf('ACC-1', old)).toBe(true);
    expect(tokenizer().isAccountKeyOf('ACC-1', old)).toBe(false);
    expect(t.isAccountKeyOf('ACC-2', old)).toBe(false);
    expect(t.isAccountKeyOf('ACC-1', null)).toBe(false);
    expect(t.isAccountToken(t.accountToken('ACC-1'))).toBe(true);
    expect(t.isAccountToken('ACC-1')).toBe(false);
    // The documented derivation (docs/operations.md), spelled out.
    const digestKey = createHmac('sha256', Buffer.from(ACCOUNT_KEY_HEX, 'hex')).update('riskloop-dead-letter-digest').digest();
    expect(t.deadLetterDigest(Buffer.from('ACC-1'))).toBe(createHmac('sha256', digestKey).update('ACC-1').digest('hex'));
    expect(() => new Tokenizer({ accountTokenKey: ACCOUNT_KEY_HEX, previousAccountTokenKeys: [KEY_2024], cardKeys: [{ id: 'k2024', key: KEY_2024 }], currentCardKeyId: 'k2024' })).toThrow(/card keys must differ/);
  });
});
