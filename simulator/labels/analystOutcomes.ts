/**
 * Analyst verdicts for the transactions the review proxy (reviewProxy.ts) flags: an analyst
 * works `analystCoverage` of them and records the truth (FRAUD or LEGITIMATE) after a lognormal
 * delay of hours to days (median analystDelayMedianHours, bounded by analystDelayMinMinutes and
 * analystDelayMaxDays). A FRAUD verdict on a fraudster's device puts the device on the block list
 * shortly after.
 */
import type { LabelConfig } from '../config.js';
import type { SimTransaction } from '../model.js';
import type { Random } from '../random.js';
import { DAY, HOUR, MINUTE } from '../time.js';
import type { BlockEvent } from './chargebacks.js';
import { ReviewProxy, type ReviewReason } from './reviewProxy.js';

export interface AnalystDraft {
  txn: SimTransaction;
  fraud: boolean;
  decidedAt: number;
  analystId: string;
  reasons: ReviewReason[];
}

export interface AnalystDrafts {
  drafts: AnalystDraft[];
  blocks: BlockEvent[];
  flagged: number;
  flaggedFraud: number;
  reasonCounts: Record<string, number>;
  beyondHorizon: number;
}

/** `transactions` sorted by event time. */
export function draftAnalystOutcomes(rng: Random, transactions: readonly SimTransaction[], config: LabelConfig, horizonEnd: number): AnalystDrafts {
  const proxy = new ReviewProxy();
  const drafts: AnalystDraft[] = [];
  const blocks: BlockEvent[] = [];
  const reasonCounts: Record<string, number> = {};
  let flagged = 0;
  let flaggedFraud = 0;
  let beyondHorizon = 0;
  for (const txn of transactions) {
    const reasons = proxy.reasons(txn);
    if (reasons.length === 0) continue;
    flagged++;
    if (txn.fraud) flaggedFraud++;
    for (const r of reasons) reasonCounts[r] = (reasonCounts[r] ?? 0) + 1;
    if (!rng.chance(config.analystCoverage)) continue;
    const delayMs = Math.min(
      config.analystDelayMaxDays * DAY,
      Math.max(config.analystDelayMinMinutes * MINUTE, rng.lognormal(config.analystDelayMedianHours, config.analystDelaySigma) * HOUR),
    );
    const decidedAt = txn.eventTime + Math.round(delayMs);
    const analystId = `analyst-${String(rng.int(1, config.analysts)).padStart(3, '0')}`;
    if (decidedAt > horizonEnd) {
      beyondHorizon++;
      continue;
    }
    drafts.push({ txn, fraud: txn.fraud !== null, decidedAt, analystId, reasons });
    if (txn.fraud && txn.device && txn.device.owner === null) blocks.push({ device: txn.device, at: decidedAt + 10 * MINUTE });
  }
  return { drafts, blocks, flagged, flaggedFraud, reasonCounts, beyondHorizon };
}
