/**
 * Everything the generative process depends on, validated with zod. The same config and seed give
 * byte-identical output, so the config (with its defaults filled in) is written into summary.json:
 * a run can be reproduced from its summary alone.
 *
 * Rates of fraud incidents are per 1 000 account-days (terminal-days for compromised terminals)
 * and are multiplied by `fraudScale`. docs/simulator.md explains each parameter and the rates the
 * defaults produce.
 */
import { z } from 'zod';

const DAY_MS = 86_400_000;

/** [min, max], both inclusive for counts, a uniform range for continuous values. */
const Range = z
  .tuple([z.number().nonnegative(), z.number().nonnegative()])
  .refine(([lo, hi]) => lo <= hi, 'range must be [min, max] with min <= max');
const IntRange = z
  .tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])
  .refine(([lo, hi]) => lo <= hi, 'range must be [min, max] with min <= max');
const Probability = z.number().min(0).max(1);
const Rate = z.number().nonnegative();

const Segment = z.object({
  share: Probability,
  /** Mean transactions per day of a typical customer of the segment. */
  dailyRate: z.number().positive(),
  /** Median ticket in euros before the merchant category's factor. */
  medianAmountEur: z.number().positive(),
  /** Standard deviation of log(amount) around that median. */
  amountSigma: z.number().positive(),
  /** Share of the customer's transactions made card-not-present (online, MOTO). */
  onlineShare: Probability,
});

export const PopulationConfig = z.object({
  segments: z
    .object({
      everyday: Segment.prefault({ share: 0.6, dailyRate: 2.4, medianAmountEur: 22, amountSigma: 0.9, onlineShare: 0.3 }),
      affluent: Segment.prefault({ share: 0.15, dailyRate: 3, medianAmountEur: 45, amountSigma: 1, onlineShare: 0.35 }),
      student: Segment.prefault({ share: 0.2, dailyRate: 2, medianAmountEur: 11, amountSigma: 0.8, onlineShare: 0.45 }),
      business: Segment.prefault({ share: 0.05, dailyRate: 4, medianAmountEur: 90, amountSigma: 1.1, onlineShare: 0.4 }),
    })
    .prefault({}),
  /** Spread of a customer's daily rate around the segment's (sigma of a median-1 lognormal factor). */
  rateDispersion: z.number().nonnegative().default(0.45),
  /** Physical merchants per customer (spread over cities); online merchants per customer. */
  physicalMerchantsPerCustomer: z.number().positive().default(0.25),
  onlineMerchantsPerCustomer: z.number().positive().default(0.02),
  /** Share of a customer's POS transactions at their preferred local merchants. */
  preferredMerchantShare: Probability.default(0.85),
  /** Trips away from home per customer-year and their length in days. */
  tripsPerYear: Rate.default(2.5),
  tripDays: IntRange.default([2, 7]),
  /** Share of trips abroad (the rest go to another city of the home country, where there is one). */
  tripAbroadShare: Probability.default(0.7),
  /** New devices (phone replaced, new laptop) per customer-year. */
  newDevicesPerYear: Rate.default(0.3),
  /** Share of card-not-present transactions that are MOTO (no device, no IP). */
  motoShare: Probability.default(0.01),
});

export const FraudConfig = z.object({
  /** Probability that a fraud incident reuses a device of the fraudster device farm. */
  deviceReuseProbability: Probability.default(0.4),
  cardTesting: z
    .object({
      incidentsPerThousandAccountDays: Rate.default(0.3),
      probes: IntRange.default([3, 8]),
      probeAmountEur: Range.default([0.5, 3]),
      probeGapSeconds: Range.default([5, 40]),
      /** Probability that the tester follows the probes with a large purchase. */
      cashOutProbability: Probability.default(0.8),
      cashOutDelayMinutes: Range.default([10, 120]),
      cashOutMedianEur: z.number().positive().default(600),
      cashOutSigma: z.number().nonnegative().default(0.5),
    })
    .prefault({}),
  stolenCredentials: z
    .object({
      incidentsPerThousandAccountDays: Rate.default(0.3),
      transactions: IntRange.default([4, 12]),
      spanHours: Range.default([0.5, 4]),
      medianAmountEur: z.number().positive().default(90),
      amountSigma: z.number().nonnegative().default(0.7),
    })
    .prefault({}),
  accountTakeover: z
    .object({
      incidentsPerThousandAccountDays: Rate.default(0.4),
      transactions: IntRange.default([1, 3]),
      spanHours: Range.default([0.5, 6]),
      medianAmountEur: z.number().positive().default(700),
      amountSigma: z.number().nonnegative().default(0.5),
      /** The fraudster's location is at least this far from the victim's home. */
      minDistanceKm: z.number().nonnegative().default(1500),
    })
    .prefault({}),
  compromisedTerminal: z
    .object({
      incidentsPerThousandTerminalDays: Rate.default(0.1),
      /** How long the skimmer stays on the terminal. */
      windowDays: Range.default([3, 14]),
      /** Share of the cards read at the terminal during the window that the gang harvests. */
      harvestProbability: Probability.default(0.5),
      /** Days from the end of the window to the start of the cash-out (lognormal median, sigma). */
      cashOutDelayMedianDays: z.number().positive().default(7),
      cashOutDelaySigma: z.number().nonnegative().default(0.5),
      /** Harvested cards are cashed out over this many days from the cash-out start. */
      cashOutSpreadDays: z.number().nonnegative().default(3),
      transactionsPerCard: IntRange.default([1, 4]),
      medianAmountEur: z.number().positive().default(300),
      amountSigma: z.number().nonnegative().default(0.6),
    })
    .prefault({}),
  drifting: z
    .object({
      /** Mean rate over the run; it grows linearly from 0.5× to 1.5× of this from first to last day. */
      incidentsPerThousandAccountDays: Rate.default(0.4),
      /** Median amount at the start and at the end of the run (interpolated geometrically). */
      medianAmountEurStart: z.number().positive().default(450),
      medianAmountEurEnd: z.number().positive().default(45),
      amountSigma: z.number().nonnegative().default(0.4),
      /** Local hour the activity centres on at the start and at the end (interpolated linearly). */
      localHourStart: z.number().min(0).max(24).default(3),
      localHourEnd: z.number().min(0).max(24).default(14),
      /** Transactions per incident at the start and at the end (interpolated, ±1). */
      transactionsStart: z.number().min(1).default(1.5),
      transactionsEnd: z.number().min(1).default(6),
    })
    .prefault({}),
});

export const LabelConfig = z.object({
  /** Probability that the victim of an incident notices it on a given card and disputes. */
  victimNoticeProbability: Probability.default(0.88),
  /** A noticing victim disputes a fraud transaction of at most tinyAmountEur with this probability... */
  tinyAmountEur: z.number().nonnegative().default(5),
  tinyReportProbability: Probability.default(0.55),
  /** ...and a larger one with this probability. */
  reportProbability: Probability.default(0.97),
  /**
   * Fraud chargeback delay: a mixture of cardholders alerted by the app (fast) and those who find
   * the charge on their statement, each lognormal (median days, sigma). Delays under minDays are
   * raised to it; over maxDays (the schemes' 120-day dispute limit) the dispute is time-barred.
   */
  chargebackDelay: z
    .object({
      alertedShare: Probability.default(0.2),
      alertedMedianDays: z.number().positive().default(4),
      alertedSigma: z.number().nonnegative().default(0.4),
      statementMedianDays: z.number().positive().default(24),
      statementSigma: z.number().nonnegative().default(0.55),
      minDays: z.number().nonnegative().default(1),
      maxDays: z.number().positive().default(120),
    })
    .prefault({}),
  /** Non-fraud disputes (not received, not as described, duplicate) per legit transaction. */
  disputeRate: Probability.default(0.0005),
  disputeDelayMedianDays: z.number().positive().default(30),
  disputeDelaySigma: z.number().nonnegative().default(0.5),
  disputeMinDays: z.number().nonnegative().default(3),
  /** Fraud chargebacks filed on legitimate card-not-present transactions (first-party misuse). */
  friendlyFraudRate: Probability.default(0.0002),
  /** Share of the proxy-flagged transactions an analyst actually works. */
  analystCoverage: Probability.default(0.6),
  analystDelayMedianHours: z.number().positive().default(6),
  analystDelaySigma: z.number().nonnegative().default(1),
  analystDelayMinMinutes: z.number().nonnegative().default(15),
  analystDelayMaxDays: z.number().positive().default(7),
  analysts: z.number().int().min(1).max(999).default(12),
  /** A confirmed fraudster device is put on the block list this many hours after the label. */
  deviceBlockDelayHours: Range.default([1, 24]),
});

const StartTime = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })])
  .transform((text) => Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text));

export const SimulatorConfig = z
  .object({
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    /** First simulated instant (ISO date = UTC midnight, or ISO date-time). */
    start: StartTime.prefault('2026-01-05'),
    days: z.number().int().min(1).max(730).default(30),
    customers: z.number().int().min(1).max(2_000_000).default(2000),
    /** Multiplies every fraud incident rate. */
    fraudScale: z.number().min(0).max(100).default(1),
    /**
     * Labels (chargebacks, analyst outcomes, device blocks) later than this many days after the
     * last simulated day are not emitted. The default keeps every chargeback the 120-day limit
     * allows; 0 gives what the loop would know on the last simulated day.
     */
    labelTailDays: z.number().int().min(0).max(365).default(120),
    population: PopulationConfig.prefault({}),
    fraud: FraudConfig.prefault({}),
    labels: LabelConfig.prefault({}),
  })
  .superRefine((c, ctx) => {
    const shares = Object.values(c.population.segments).reduce((sum, s) => sum + s.share, 0);
    if (Math.abs(shares - 1) > 1e-9) {
      ctx.addIssue({ code: 'custom', path: ['population', 'segments'], message: `segment shares sum to ${shares}, not 1` });
    }
    if (!Number.isFinite(c.start)) ctx.addIssue({ code: 'custom', path: ['start'], message: 'is not a valid date' });
  });

export type SimulatorConfigInput = z.input<typeof SimulatorConfig>;
export type SimulatorConfig = z.output<typeof SimulatorConfig>;
export type PopulationConfig = z.output<typeof PopulationConfig>;
export type FraudConfig = z.output<typeof FraudConfig>;
export type LabelConfig = z.output<typeof LabelConfig>;
export type SegmentName = keyof PopulationConfig['segments'];

export function simulationEnd(config: SimulatorConfig): number {
  return config.start + config.days * DAY_MS;
}
