/**
 * The rates docs/simulator.md promises: the fraud rate band and per-pattern counts, the chargeback
 * delay distribution (against its formula), the reported share, the summary's honesty (its
 * numbers recomputed from the records), and the drifting pattern's signature week by week.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { accountTokenOf } from '../../../processors/tokenizer.js';
import { LabelConfig } from '../../../simulator/config.js';
import { drawFraudChargebackDelayDays } from '../../../simulator/labels/chargebacks.js';
import { FRAUD_PATTERNS } from '../../../simulator/model.js';
import { Random } from '../../../simulator/random.js';
import { simulate, type SimulationResult } from '../../../simulator/simulate.js';

const KEY = Buffer.alloc(32, 0x33);
const keyFor = (id: string): string => accountTokenOf(KEY, id);
const DAY = 86_400_000;

/** Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): enough for quantiles to a hundredth of a day. */
function erf(x: number): number {
  const sign = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
  return sign * (1 - poly * Math.exp(-a * a));
}
const phi = (z: number): number => 0.5 * (1 + erf(z / Math.SQRT2));

/** Nearest-rank percentile, as the summary computes it. */
function nearestRank(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

let run: SimulationResult;

beforeAll(() => {
  run = simulate({ seed: 1 }, { keyFor });
});

describe('fraud rates', () => {
  it('keeps overall fraud well under 1 % (documented band 0.2-0.5 %) with every pattern present', () => {
    const fraud = run.truth.filter((t) => t.fraud);
    const rate = fraud.length / run.truth.length;
    expect(rate).toBeGreaterThanOrEqual(0.002);
    expect(rate).toBeLessThanOrEqual(0.005);
    expect(run.summary.fraud.rate).toBeCloseTo(rate, 6);
    let sum = 0;
    for (const pattern of FRAUD_PATTERNS) {
      const txns = fraud.filter((t) => t.pattern === pattern);
      const incidents = new Set(txns.map((t) => t.incidentId));
      expect(txns.length, pattern).toBeGreaterThan(0);
      expect(run.summary.fraud.byPattern[pattern].transactions).toBe(txns.length);
      expect(run.summary.fraud.byPattern[pattern].incidents).toBe(incidents.size);
      sum += txns.length;
    }
    expect(sum).toBe(fraud.length);
  });
});

describe('chargeback delays', () => {
  it('follow the documented mixture: quantiles of 200 000 draws match the formula', () => {
    const config = LabelConfig.parse({}).chargebackDelay;
    // Defaults: 20 % alerted, lognormal(median 4 d, σ 0.4); 80 % statement, lognormal(median 24 d, σ 0.55);
    // draws over 120 days are time-barred (dropped), so the law is the mixture conditioned on ≤ 120.
    const cdf = (x: number): number =>
      config.alertedShare * phi(Math.log(x / config.alertedMedianDays) / config.alertedSigma) +
      (1 - config.alertedShare) * phi(Math.log(x / config.statementMedianDays) / config.statementSigma);
    const barred = 1 - cdf(config.maxDays);
    const quantile = (p: number): number => {
      let lo = 0.01;
      let hi = config.maxDays;
      for (let i = 0; i < 100; i++) {
        const mid = Math.sqrt(lo * hi);
        if (cdf(mid) / (1 - barred) < p) lo = mid;
        else hi = mid;
      }
      return lo;
    };
    // The documented values: p5 ≈ 3 days, median ≈ 20, p95 ≈ 55, about 0.14 % time-barred.
    expect(quantile(0.05)).toBeCloseTo(3.05, 1);
    expect(quantile(0.5)).toBeCloseTo(20.1, 1);
    expect(quantile(0.95)).toBeCloseTo(55.4, 1);
    expect(barred).toBeCloseTo(0.0014, 4);

    const rng = new Random(77);
    const draws: number[] = [];
    let timeBarred = 0;
    for (let i = 0; i < 200_000; i++) {
      const d = drawFraudChargebackDelayDays(rng, config);
      if (d === null) timeBarred++;
      else draws.push(d);
    }
    draws.sort((a, b) => a - b);
    expect(draws[0]!).toBeGreaterThanOrEqual(config.minDays);
    expect(draws.at(-1)!).toBeLessThanOrEqual(config.maxDays);
    for (const p of [5, 25, 50, 75, 95]) {
      expect(Math.abs(nearestRank(draws, p) / quantile(p / 100) - 1), `p${p}`).toBeLessThan(0.03);
    }
    // 200 000 × 0.14 % ≈ 274 expected, standard deviation ≈ 17.
    expect(Math.abs(timeBarred - barred * 200_000)).toBeLessThan(100);
  });

  it('report 70-85 % of fraud transactions, and the summary prints what the records hold', () => {
    const eventTime = new Map(run.records.transactions.map((r) => [r.value.transactionId, r.value.eventTime]));
    const fraudIds = new Set(run.truth.filter((t) => t.fraud).map((t) => t.transactionId));
    const reported = new Set<string>();
    const delays: number[] = [];
    for (const { value } of run.records.chargebacks) {
      if (!value.fraud || !fraudIds.has(value.transactionId)) continue;
      reported.add(value.transactionId);
      delays.push((value.reportedAt - eventTime.get(value.transactionId)!) / DAY);
    }
    const share = reported.size / fraudIds.size;
    expect(share).toBeGreaterThanOrEqual(0.7);
    expect(share).toBeLessThanOrEqual(0.85);
    expect(run.summary.chargebacks.reportedShare).toBeCloseTo(share, 6);
    delays.sort((a, b) => a - b);
    const printed = run.summary.chargebacks.fraudDelayDays;
    expect(printed.count).toBe(delays.length);
    expect(printed.p5).toBeCloseTo(nearestRank(delays, 5), 2);
    expect(printed.p50).toBeCloseTo(nearestRank(delays, 50), 2);
    expect(printed.p95).toBeCloseTo(nearestRank(delays, 95), 2);
    expect(delays[0]!).toBeGreaterThanOrEqual(1);
    expect(delays.at(-1)!).toBeLessThanOrEqual(120);
  });

  it('emits only labels up to the horizon: labelTailDays 0 keeps what is known on the last day', () => {
    const short = simulate({ seed: 3, customers: 400, days: 14, labelTailDays: 0, fraudScale: 5 }, { keyFor });
    const end = Date.parse('2026-01-05T00:00:00Z') + 14 * DAY;
    for (const r of [...short.records.chargebacks, ...short.records.analystOutcomes, ...short.records.deviceSignals]) {
      expect(r.timestamp).toBeLessThanOrEqual(end);
    }
    expect(short.summary.chargebacks.beyondHorizon).toBeGreaterThan(0);
  });
});

describe('the drifting pattern', () => {
  it('shifts amount, hour, merchant mix and device week by week as documented', () => {
    const off = { incidentsPerThousandAccountDays: 0 };
    const drift = simulate(
      {
        seed: 8,
        customers: 1000,
        days: 28,
        fraudScale: 15,
        fraud: { cardTesting: off, stolenCredentials: off, accountTakeover: off, compromisedTerminal: { incidentsPerThousandTerminalDays: 0 } },
      },
      { keyFor },
    );
    const weeks = drift.summary.drift;
    expect(weeks).toHaveLength(4);
    // A transaction's f is its incident's position in the run (0 → 1). Within a week, incidents come
    // at rate ∝ 0.5 + f and bring 1.5 + 4.5 f transactions on average, so the typical f of the week's
    // transactions is the mean of f weighted by w(f) = (0.5 + f)(1.5 + 4.5 f) (midpoint rule).
    const typicalF = (from: number, to: number): number => {
      let num = 0;
      let den = 0;
      for (let k = 0; k < 1000; k++) {
        const f = from + ((k + 0.5) / 1000) * (to - from);
        const w = (0.5 + f) * (1.5 + 4.5 * f);
        num += f * w;
        den += w;
      }
      return num / den;
    };
    for (const [i, week] of weeks.entries()) {
      const f = typicalF(i / 4, (i + 1) / 4);
      // Median amount 450 · (45/450)^f; local hour centre 3 + 11 f, reported as the whole hour (so
      // about half an hour lower); share on the victim's own phone f. Incidents, not transactions,
      // are independent (a few dozen a week), hence the loose device tolerance.
      expect(week.transactions, `week ${i + 1}`).toBeGreaterThan(40);
      expect(Math.abs(week.medianAmountEur! / (450 * 0.1 ** f) - 1), `week ${i + 1} amount`).toBeLessThan(0.25);
      expect(Math.abs(week.medianLocalHour! - (3 + 11 * f - 0.5)), `week ${i + 1} hour`).toBeLessThan(1.5);
      expect(Math.abs(week.victimDeviceShare! - f), `week ${i + 1} device`).toBeLessThan(0.25);
    }
    // The shift is monotone week over week.
    for (let i = 1; i < weeks.length; i++) {
      expect(weeks[i]!.medianAmountEur!).toBeLessThan(weeks[i - 1]!.medianAmountEur!);
      expect(weeks[i]!.medianLocalHour!).toBeGreaterThan(weeks[i - 1]!.medianLocalHour!);
    }
    expect(['5732', '5947', '5311']).toContain(weeks[0]!.topMccs[0]);
    expect(['4829', '6051', '5816']).toContain(weeks[3]!.topMccs[0]);
    // The incident rate grows from 0.5× to 1.5×: the last week has clearly more than the first.
    expect(weeks[3]!.transactions).toBeGreaterThan(weeks[0]!.transactions * 1.5);
  });
});
