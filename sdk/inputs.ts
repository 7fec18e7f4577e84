/**
 * What callers hand the SDK (and the HTTP API), checked with zod before anything is sent. These
 * mirror the Avro records of schemas/ with two conveniences: nullable fields may be left out, and
 * account-keyed inputs name the account by its clear `accountId` (the SDK derives the token; the
 * id itself travels only inside the raw ingress records, as the schemas allow).
 *
 * The checks here are the shape of the contract (types, digits-only PAN, ISO-looking codes,
 * positive amounts). The loop stays the authority on content (Luhn, the ISO 4217 list, event-time
 * bounds): what it refuses comes back as a TransactionRejectedError with the loop's reason code.
 * zod's messages name the rule broken, never the value, so the PAN cannot leak through an error.
 */
import { z } from 'zod';
import { InvalidInputError } from './errors.js';

const nullable = <T extends z.ZodType>(t: T) => t.nullable().optional().transform((v) => v ?? null);
const id = (what: string) => z.string().min(1, `${what} must not be empty`).max(256, `${what} is at most 256 characters`);
const epochMs = z.number().int('must be an integer (epoch milliseconds)').min(0).max(8_640_000_000_000_000);

export const TransactionInput = z.object({
  transactionId: id('transactionId'),
  /**
   * When the authorisation was requested, epoch milliseconds. Required, not defaulted to now: a
   * retry must carry the same value, or the loop sees a different transaction under a reused id.
   */
  eventTime: epochMs,
  accountId: id('accountId'),
  pan: z.string().regex(/^[0-9]{12,19}$/, 'must be 12 to 19 digits, no separators'),
  amountMinor: z.number().int('must be an integer number of minor units').positive('must be greater than 0').max(Number.MAX_SAFE_INTEGER),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 alphabetic code, upper case (e.g. EUR)'),
  merchantId: id('merchantId'),
  merchantName: nullable(z.string().max(256)),
  terminalId: nullable(z.string().max(64)),
  mcc: z.string().regex(/^[0-9]{4}$/, 'must be four digits (ISO 18245), as a string'),
  merchantCountry: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code, upper case (e.g. DE)'),
  channel: z.enum(['POS', 'ECOM', 'ATM', 'MOTO', 'OTHER']),
  cardPresent: z.boolean(),
  threeDsAuthenticated: nullable(z.boolean()),
  lat: nullable(z.number().min(-90).max(90)),
  lon: nullable(z.number().min(-180).max(180)),
  deviceId: nullable(z.string().max(256)),
  ip: nullable(z.string().max(64)),
});
export type TransactionInput = z.input<typeof TransactionInput>;

export const KycInput = z.object({
  accountId: id('accountId'),
  entityType: z.enum(['PERSON', 'BUSINESS']),
  status: z.enum(['PENDING', 'VERIFIED', 'REJECTED', 'EXPIRED', 'SUSPENDED']),
  riskTier: z.enum(['LOW', 'MEDIUM', 'HIGH']),
  accountOpenedAt: epochMs,
  pep: z.boolean(),
  sanctioned: z.boolean(),
  watchlistHits: z.number().int().min(0),
  country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code, upper case'),
  updatedAt: epochMs.optional(),
});
export type KycInput = z.input<typeof KycInput>;

export const DeviceSignalInput = z.object({
  deviceId: id('deviceId'),
  eventTime: epochMs.optional(),
  /** The account using the device, when known (tokenized by the SDK). */
  accountId: nullable(id('accountId')),
  emulator: z.boolean(),
  rooted: z.boolean(),
  blocked: z.boolean(),
  os: nullable(z.string().max(128)),
  userAgent: nullable(z.string().max(1024)),
  ip: nullable(z.string().max(64)),
});
export type DeviceSignalInput = z.input<typeof DeviceSignalInput>;

export const ChargebackInput = z.object({
  chargebackId: id('chargebackId'),
  transactionId: id('transactionId'),
  accountId: id('accountId'),
  reasonCode: z.string().min(1).max(32),
  amountMinor: z.number().int().positive('must be greater than 0').max(Number.MAX_SAFE_INTEGER),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 alphabetic code, upper case'),
  reportedAt: epochMs.optional(),
  fraud: z.boolean(),
});
export type ChargebackInput = z.input<typeof ChargebackInput>;

/** Analysts work from decisions, which carry the account token: either the token or the clear id. */
export const AnalystOutcomeInput = z
  .object({
    transactionId: id('transactionId'),
    accountId: id('accountId').optional(),
    accountToken: z.string().regex(/^at_[A-Za-z0-9_-]{32}$/, 'must be an account token (at_ + 32 base64url characters)').optional(),
    outcome: z.enum(['FRAUD', 'LEGITIMATE']),
    analystId: id('analystId'),
    caseId: nullable(z.string().max(256)),
    decidedAt: epochMs.optional(),
  })
  .refine((o) => (o.accountId === undefined) !== (o.accountToken === undefined), { message: 'give exactly one of accountId and accountToken', path: ['accountId'] });
export type AnalystOutcomeInput = z.input<typeof AnalystOutcomeInput>;

/**
 * The result of a step-up challenge the loop asked for with a CHALLENGE decision (3-D Secure, a
 * one-time code): the gateway or the 3DS server reports it, and it becomes a label (FAILED → fraud,
 * PASSED → legitimate) and a feature of the account's next payments.
 */
export const ChallengeResultInput = z
  .object({
    transactionId: id('transactionId'),
    accountId: id('accountId').optional(),
    accountToken: z.string().regex(/^at_[A-Za-z0-9_-]{32}$/, 'must be an account token (at_ + 32 base64url characters)').optional(),
    result: z.enum(['PASSED', 'FAILED', 'ABANDONED']),
    method: z.enum(['THREE_DS', 'OTP', 'BIOMETRIC', 'OTHER']).default('OTHER'),
    completedAt: epochMs.optional(),
  })
  .refine((o) => (o.accountId === undefined) !== (o.accountToken === undefined), { message: 'give exactly one of accountId and accountToken', path: ['accountId'] });
export type ChallengeResultInput = z.input<typeof ChallengeResultInput>;

/** Parses or throws InvalidInputError with paths and messages only. */
export function parseInput<S extends z.ZodType>(schema: S, what: string, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidInputError(
      what,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  return parsed.data;
}
