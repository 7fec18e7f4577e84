/**
 * Chargebacks as the card network reports them.
 *
 * Fraud: the victim of an incident notices it on a card with victimNoticeProbability (all of the
 * incident's transactions on that card, or none: cardholders read their statement once); a
 * noticing victim disputes each fraud transaction with reportProbability, or
 * tinyReportProbability for amounts up to tinyAmountEur (a 1-euro card test often goes unnoticed).
 * The delay from the transaction to the report is a two-part mixture: cardholders alerted by
 * their app dispute within days (lognormal, median alertedMedianDays), the others when their
 * statement arrives (lognormal, median statementMedianDays). Delays under minDays are raised to it
 * (the network needs that long); a dispute later than maxDays (the schemes' 120-day limit) is
 * time-barred and never filed.
 *
 * Not fraud: a small rate of legitimate transactions is disputed for service reasons (not
 * received, not as described, duplicate processing), sometimes for part of the amount, with
 * `fraud: false`; and a smaller rate of legitimate card-not-present ones gets a fraud chargeback
 * anyway (first-party misuse, "friendly fraud"): label noise that real loops live with. The truth
 * output still says those transactions were legitimate.
 *
 * A reported fraud transaction made on a fraudster's device gets that device on the block list a
 * few hours after the report (the issuer's fraud team acting on it).
 */
import type { LabelConfig } from '../config.js';
import type { Device, SimTransaction } from '../model.js';
import { schemeOf } from '../pan.js';
import type { Random } from '../random.js';
import { DAY, HOUR } from '../time.js';

export type ChargebackKind = 'fraud' | 'friendly_fraud' | 'dispute';

export interface ChargebackDraft {
  txn: SimTransaction;
  kind: ChargebackKind;
  reportedAt: number;
  reasonCode: string;
  amountMinor: number;
}

export interface BlockEvent {
  device: Device;
  at: number;
}

export interface ChargebackDrafts {
  drafts: ChargebackDraft[];
  blocks: BlockEvent[];
  /** Fraud disputes that would have come after the schemes' time limit. */
  timeBarred: number;
  /** Labels that would arrive after the emitted horizon (end + labelTailDays). */
  beyondHorizon: number;
}

const DISPUTE_REASONS = { VISA: ['13.1', '13.3', '12.6.1'], MASTERCARD: ['4855', '4853', '4834'] } as const;

function fraudReasonCode(txn: SimTransaction): string {
  if (schemeOf(txn.card.pan) === 'MASTERCARD') return '4837';
  // Visa 10.3: other fraud, card-present; 10.4: other fraud, card-absent.
  return txn.channel === 'POS' || txn.channel === 'ATM' ? '10.3' : '10.4';
}

/** Days from a fraud transaction to its chargeback, or null when the dispute would be time-barred. */
export function drawFraudChargebackDelayDays(rng: Random, config: LabelConfig['chargebackDelay']): number | null {
  const alerted = rng.chance(config.alertedShare);
  const days = alerted
    ? rng.lognormal(config.alertedMedianDays, config.alertedSigma)
    : rng.lognormal(config.statementMedianDays, config.statementSigma);
  if (days > config.maxDays) return null;
  return Math.max(config.minDays, days);
}

/** Chargebacks for `transactions` (sorted by event time), not yet given ids. */
export function draftChargebacks(rng: Random, transactions: readonly SimTransaction[], config: LabelConfig, horizonEnd: number): ChargebackDrafts {
  const drafts: ChargebackDraft[] = [];
  const blocks: BlockEvent[] = [];
  const noticed = new Map<string, boolean>();
  let timeBarred = 0;
  let beyondHorizon = 0;

  const file = (txn: SimTransaction, kind: ChargebackKind, delayDays: number, reasonCode: string, amountMinor: number): boolean => {
    const reportedAt = txn.eventTime + Math.round(delayDays * DAY);
    if (reportedAt > horizonEnd) {
      beyondHorizon++;
      return false;
    }
    drafts.push({ txn, kind, reportedAt, reasonCode, amountMinor });
    return true;
  };

  for (const txn of transactions) {
    if (txn.fraud) {
      const victimKey = `${txn.fraud.incidentId}|${txn.card.pan}`;
      let noticesIt = noticed.get(victimKey);
      if (noticesIt === undefined) {
        noticesIt = rng.chance(config.victimNoticeProbability);
        noticed.set(victimKey, noticesIt);
      }
      const p = txn.amountEur <= config.tinyAmountEur ? config.tinyReportProbability : config.reportProbability;
      if (!noticesIt || !rng.chance(p)) continue;
      const delay = drawFraudChargebackDelayDays(rng, config.chargebackDelay);
      if (delay === null) {
        timeBarred++;
        continue;
      }
      const filed = file(txn, 'fraud', delay, fraudReasonCode(txn), txn.amountMinor);
      if (filed && txn.device && txn.device.owner === null) {
        const hours = rng.uniform(config.deviceBlockDelayHours[0], config.deviceBlockDelayHours[1]);
        blocks.push({ device: txn.device, at: txn.eventTime + Math.round(delay * DAY + hours * HOUR) });
      }
      continue;
    }
    const cardNotPresent = txn.channel === 'ECOM' || txn.channel === 'MOTO';
    if (cardNotPresent && rng.chance(config.friendlyFraudRate)) {
      const delay = drawFraudChargebackDelayDays(rng, config.chargebackDelay);
      if (delay === null) timeBarred++;
      else file(txn, 'friendly_fraud', delay, fraudReasonCode(txn), txn.amountMinor);
      continue;
    }
    if (rng.chance(config.disputeRate)) {
      const delay = Math.max(config.disputeMinDays, rng.lognormal(config.disputeDelayMedianDays, config.disputeDelaySigma));
      if (delay > config.chargebackDelay.maxDays) continue;
      const partial = rng.chance(0.25);
      const amountMinor = partial ? Math.max(1, Math.round(txn.amountMinor * rng.uniform(0.3, 0.9))) : txn.amountMinor;
      file(txn, 'dispute', delay, rng.pick(DISPUTE_REASONS[schemeOf(txn.card.pan)]), amountMinor);
    }
  }
  return { drafts, blocks, timeBarred, beyondHorizon };
}
