/**
 * Keyed tokens for the two identifiers that must never travel past ingress: the account id and
 * the PAN. Both are HMAC-SHA256 (Node's crypto; nothing here needs a library):
 *
 *   account token  at_<base64url(HMAC(accountTokenKey, accountId))[:32]>
 *   card token     ct_<keyId>_<base64url(HMAC(cardKey[keyId], pan))[:32]>
 *
 * Why HMAC and not a hash: with the BIN and last 4 known (the loop keeps them), a 16-digit PAN has
 * six unknown digits, and Luhn removes one of them: 10^5 candidates, which anyone could hash in
 * milliseconds. Only the secret key makes the token irreversible, so the key is the protection and
 * the truncation below does not weaken it.
 *
 * Why 32 base64url characters (192 bits of the 256-bit MAC) is safe: a truncated HMAC is still a
 * pseudo-random function of its input, so the only new risk is two inputs sharing a token. For N
 * distinct inputs the birthday bound gives p ≈ N² / 2^193: with 10^10 accounts (or cards) that is
 * about 10^-38. Guessing a valid token without the key is a 1 in 2^192 shot. The shorter token keeps
 * keys, store entries and decisions smaller on every record of the hot path.
 *
 * The account-token key rotates by re-keying, not by key id: every partition assignment, state
 * store and topic of the loop is keyed by the account token, and a token must stay one fixed-size
 * opaque string producers can compute (`accountTokenOf`, the producer SDK needs only that key), so
 * a token carries no key id. A rotation is a new key plus a rebuild of the state from the raw
 * topics (docs/operations.md, "Rotating the account-token key"); during it `previousAccountTokenKeys`
 * lets ingress accept records that producers still key with the token under an old key (it
 * re-keys them to the current token). Card keys rotate:
 * new tokens use the current key, and a token carries its key id, so an old token is still
 * resolved (`cardTokenWith(pan, oldKeyId)` or `isCardTokenOf`) for as long as its key is configured.
 * Tokens are only comparable under one key id; velocity per card restarts at a rotation, which is
 * the accepted cost of rotating.
 *
 * Inputs are used byte for byte (UTF-8): no trimming or case folding, so producers must send the
 * account id exactly as the issuer writes it. Nothing in this file puts an input into an error.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** MAC characters kept in a token (see the file comment for why 192 bits is enough). */
export const TOKEN_MAC_CHARS = 32;
export const MIN_KEY_BYTES = 32;
/** No '_' in key ids, so that ct_<keyId>_<mac> splits unambiguously (base64url MACs may contain '_'). */
const KEY_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
const HEX_PATTERN = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/_-]+={0,2}$/;
const ACCOUNT_PREFIX = 'at_';
const CARD_PREFIX = 'ct_';
/** Domain tag for identifier pseudonyms, so that they can never equal an account token of the same text. */
const IDENTIFIER_DOMAIN = 'riskloop-identifier\u0000';
/**
 * Derivation label of the dead-letter digest key: HMAC(accountTokenKey, label). A separate key so
 * that the digest of bytes that happen to be an account id is not that account's token. Operators
 * derive it with openssl (docs/operations.md, "Dead letters").
 */
export const DEAD_LETTER_DIGEST_LABEL = 'riskloop-dead-letter-digest';
const ACCOUNT_TOKEN_PATTERN = new RegExp(`^${ACCOUNT_PREFIX}[A-Za-z0-9_-]{${TOKEN_MAC_CHARS}}$`);

/** Whether a text has the shape of an account token (says nothing about which account's). */
export function isAccountTokenShaped(text: string): boolean {
  return ACCOUNT_TOKEN_PATTERN.test(text);
}

/**
 * Decodes a secret given as hex (tried first: an even-length string of hex digits) or base64 /
 * base64url. Returns undefined when it is neither, so the caller can report without quoting it.
 */
export function decodeSecret(text: string): Buffer | undefined {
  if (HEX_PATTERN.test(text)) return Buffer.from(text, 'hex');
  if (BASE64_PATTERN.test(text)) return Buffer.from(text, 'base64');
  return undefined;
}

/** A secret key: hex or base64 text of at least 32 bytes, decoded. */
export const SecretKey = z.string().transform((text, ctx) => {
  const key = decodeSecret(text);
  if (key === undefined || key.length < MIN_KEY_BYTES) {
    ctx.addIssue({ code: 'custom', message: `must be hex or base64 of at least ${MIN_KEY_BYTES} bytes` });
    return z.NEVER;
  }
  return key;
});

export const TokenizerConfig = z
  .object({
    /** The partitioning secret shared with the producer SDK (rotation: see file comment). */
    accountTokenKey: SecretKey,
    /**
     * Account-token keys being rotated out: a record keyed with its account's token under one of
     * these is accepted at ingress (and re-keyed to the current token) while producers switch.
     */
    previousAccountTokenKeys: z.array(SecretKey).default([]),
    /** Every card key that may still have live tokens, the current one included. */
    cardKeys: z
      .array(
        z.object({
          id: z.string().regex(KEY_ID_PATTERN, 'key ids are 1-64 letters, digits or "-"'),
          key: SecretKey,
        }),
      )
      .min(1),
    /** Key id new card tokens are made with. */
    currentCardKeyId: z.string(),
  })
  .superRefine((c, ctx) => {
    const ids = new Set<string>();
    for (const [i, k] of c.cardKeys.entries()) {
      if (ids.has(k.id)) ctx.addIssue({ code: 'custom', path: ['cardKeys', i, 'id'], message: 'duplicate card key id' });
      ids.add(k.id);
      // One key for two purposes would let a card token be compared with an account token.
      if (k.key.equals(c.accountTokenKey) || c.previousAccountTokenKeys.some((p) => p.equals(k.key))) {
        ctx.addIssue({ code: 'custom', path: ['cardKeys', i, 'key'], message: 'card keys must differ from the account-token keys' });
      }
    }
    if (!ids.has(c.currentCardKeyId)) {
      ctx.addIssue({ code: 'custom', path: ['currentCardKeyId'], message: 'is not one of cardKeys' });
    }
  });
export type TokenizerConfigInput = z.input<typeof TokenizerConfig>;

function mac(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('base64url').slice(0, TOKEN_MAC_CHARS);
}

/** The account token of an account id: what producers key account topics by. */
export function accountTokenOf(accountTokenKey: Buffer, accountId: string): string {
  return ACCOUNT_PREFIX + mac(accountTokenKey, accountId);
}

/** The key id a card token was made with, or undefined when the text is not a card token. */
export function cardTokenKeyId(token: string): string | undefined {
  if (!token.startsWith(CARD_PREFIX)) return undefined;
  const end = token.indexOf('_', CARD_PREFIX.length);
  if (end < 0) return undefined;
  const keyId = token.slice(CARD_PREFIX.length, end);
  return KEY_ID_PATTERN.test(keyId) && token.length - end - 1 === TOKEN_MAC_CHARS ? keyId : undefined;
}

/** Bank identification number: the first 6 digits (what the loop keeps for issuer lookups). */
export function binOf(pan: string): string {
  return pan.slice(0, 6);
}

export function last4Of(pan: string): string {
  return pan.slice(-4);
}

export interface CardToken {
  token: string;
  keyId: string;
}

export class Tokenizer {
  readonly currentCardKeyId: string;
  // ECMAScript private fields: invisible to JSON.stringify, pino and util.inspect, so logging a
  // Tokenizer (or an object holding one) can never print key material.
  readonly #accountKey: Buffer;
  readonly #previousAccountKeys: readonly Buffer[];
  readonly #digestKey: Buffer;
  readonly #cardKeys: ReadonlyMap<string, Buffer>;
  // The last account id tokenized and its token: ingress asks for the same account's token up to
  // three times per transaction (record-key check, re-keying, tokenizing), each an HMAC (profiled:
  // ~2 % of the hot path's CPU). Private like the keys: never printed, never serialized.
  #lastAccountId: string | undefined;
  #lastAccountToken = '';

  constructor(input: TokenizerConfigInput) {
    const parsed = TokenizerConfig.safeParse(input);
    if (!parsed.success) {
      // Issue paths and messages only: the input holds the keys.
      const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
      throw new Error(`invalid tokenizer config: ${msg}`);
    }
    this.#accountKey = parsed.data.accountTokenKey;
    this.#previousAccountKeys = parsed.data.previousAccountTokenKeys;
    this.#digestKey = createHmac('sha256', this.#accountKey).update(DEAD_LETTER_DIGEST_LABEL, 'utf8').digest();
    this.#cardKeys = new Map(parsed.data.cardKeys.map((k) => [k.id, k.key]));
    this.currentCardKeyId = parsed.data.currentCardKeyId;
  }

  accountToken(accountId: string): string {
    if (accountId === this.#lastAccountId) return this.#lastAccountToken;
    const token = accountTokenOf(this.#accountKey, accountId);
    this.#lastAccountId = accountId;
    this.#lastAccountToken = token;
    return token;
  }

  /**
   * Whether `key` is the account's token under the current key or one being rotated out: what
   * ingress accepts as the record key of that account's records (and then re-keys to the current).
   */
  isAccountKeyOf(accountId: string, key: string | null | undefined): boolean {
    if (key === null || key === undefined) return false;
    if (key === this.accountToken(accountId)) return true;
    return this.#previousAccountKeys.some((k) => accountTokenOf(k, accountId) === key);
  }

  /** The account's tokens under the keys being rotated out (none outside a rotation). */
  previousAccountTokens(accountId: string): string[] {
    return this.#previousAccountKeys.map((k) => accountTokenOf(k, accountId));
  }

  /** Shape check only; see isAccountTokenShaped. */
  isAccountToken(text: string): boolean {
    return isAccountTokenShaped(text);
  }

  /**
   * HMAC-SHA256 (hex) of bytes under the dead-letter digest key: what a dead letter keeps of a
   * record it cannot carry, so that an operator holding the producer's copy can match it, while a
   * reader of the dead-letter topic cannot confirm a guessed account id or PAN.
   */
  deadLetterDigest(bytes: Buffer): string {
    return createHmac('sha256', this.#digestKey).update(bytes).digest('hex');
  }

  /** The card token under the current key. */
  cardToken(pan: string): CardToken {
    return { token: this.cardTokenWith(pan, this.currentCardKeyId), keyId: this.currentCardKeyId };
  }

  /** The card token under a named (possibly retired but still configured) key. */
  cardTokenWith(pan: string, keyId: string): string {
    const key = this.#cardKeys.get(keyId);
    if (key === undefined) throw new Error(`unknown card-token key id ${JSON.stringify(keyId)}`);
    return `${CARD_PREFIX}${keyId}_${mac(key, pan)}`;
  }

  /** Whether a token (made under any configured key) is the token of this PAN: resolves tokens across rotations. */
  isCardTokenOf(pan: string, token: string): boolean {
    const keyId = cardTokenKeyId(token);
    if (keyId === undefined || !this.#cardKeys.has(keyId)) return false;
    const expected = Buffer.from(this.cardTokenWith(pan, keyId));
    const given = Buffer.from(token);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  hasCardKey(keyId: string): boolean {
    return this.#cardKeys.has(keyId);
  }

  /**
   * A stable pseudonym for an identifier that had to be taken out of the clear (a merchant,
   * terminal, device or chargeback id holding a card number, see ingress.ts; transaction ids are
   * never rewritten). Keyed by the non-rotating account key, so the same id always gets the same one.
   */
  identifierPseudonym(identifier: string): string {
    return 'id_' + mac(this.#accountKey, IDENTIFIER_DOMAIN + identifier);
  }
}
