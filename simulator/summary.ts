/**
 * What a run produced, in numbers a reader can check against docs/simulator.md: record counts,
 * the fraud rate overall, per pattern and per week, the drifting pattern's signature week by
 * week, the chargeback delay distribution and the reported share, and the analyst proxy's reach.
 * Written as summary.json and printed by `riskloop simulate`. Nothing here depends on the wall
 * clock, so the summary is as reproducible as the records.
 */
import type { SimulatorConfig } from './config.js';
import type { AnalystDrafts } from './labels/analystOutcomes.js';
import type { ChargebackDrafts } from './labels/chargebacks.js';
import { FRAUD_PATTERNS, type Customer, type FraudPattern, type SimTransaction } from './model.js';
import type { MerchantDirectory } from './population/merchants.js';
import { DAY, HOUR } from './time.js';
import type { FraudIncident } from './fraud/incident.js';

export interface Percentiles {
  count: number;
  min: number | null;
  p5: number | null;
  p25: number | null;
  p50: number | null;
  p75: number | null;
  p95: number | null;
  max: number | null;
}

export interface PatternSummary {
  incidents: number;
  transactions: number;
  /** Share of all transactions. */
  rate: number;
  amountEur: number;
}

export interface WeekSummary {
  week: number;
  transactions: number;
  fraud: number;
  fraudRate: number;
}

export interface DriftWeek {
  week: number;
  transactions: number;
  medianAmountEur: number | null;
  medianLocalHour: number | null;
  /** Merchant categories of the week's drifting-pattern transactions, most frequent first. */
  topMccs: string[];
  /** Share made on the victim's own device. */
  victimDeviceShare: number | null;
}

export interface SimulationSummary {
  seed: number;
  period: { start: string; end: string; days: number; labelsUntil: string };
  population: {
    customers: number;
    cards: number;
    customerDevices: number;
    fraudsterDevices: number;
    physicalMerchants: number;
    onlineMerchants: number;
    terminals: number;
  };
  records: { transactions: number; kyc: number; deviceSignals: number; chargebacks: number; analystOutcomes: number };
  fraud: {
    transactions: number;
    rate: number;
    amountEur: number;
    byPattern: Record<FraudPattern, PatternSummary>;
    /** Legitimate transactions at compromised terminals whose card was harvested there. */
    harvestedAtCompromisedTerminals: number;
    byWeek: WeekSummary[];
  };
  drift: DriftWeek[];
  chargebacks: {
    fraud: number;
    friendlyFraud: number;
    disputes: number;
    /** Share of fraud transactions that received a fraud chargeback (within the emitted horizon). */
    reportedShare: number;
    timeBarred: number;
    beyondHorizon: number;
    /** Days from the fraud transaction to its fraud chargeback. */
    fraudDelayDays: Percentiles;
  };
  analyst: {
    flagged: number;
    flaggedShare: number;
    /** Share of flagged transactions that are fraud. */
    flaggedPrecision: number;
    /** Share of fraud transactions the proxy flags. */
    fraudFlaggedShare: number;
    reasons: Record<string, number>;
    outcomes: number;
    fraudOutcomes: number;
    legitimateOutcomes: number;
    beyondHorizon: number;
    delayHours: Percentiles;
  };
  config: unknown;
}

/** Nearest-rank percentiles (no interpolation: every value reported occurred). */
export function percentiles(values: readonly number[], digits = 2): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const at = (p: number): number | null => (n === 0 ? null : round(sorted[Math.max(0, Math.ceil((p / 100) * n) - 1)]!, digits));
  return { count: n, min: at(0), p5: at(5), p25: at(25), p50: at(50), p75: at(75), p95: at(95), max: n === 0 ? null : round(sorted[n - 1]!, digits) };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : round(a / b, 6));

function median(values: number[]): number | null {
  return percentiles(values).p50;
}

export interface SummaryInput {
  config: SimulatorConfig;
  start: number;
  end: number;
  horizonEnd: number;
  customers: readonly Customer[];
  merchants: MerchantDirectory;
  fraudsterDevices: number;
  transactions: readonly SimTransaction[];
  incidents: readonly FraudIncident[];
  chargebacks: ChargebackDrafts;
  analyst: AnalystDrafts;
  recordCounts: SimulationSummary['records'];
}

export function summarize(input: SummaryInput): SimulationSummary {
  const { transactions, config } = input;
  const total = transactions.length;
  const weeks = Math.ceil(config.days / 7);
  const weekOf = (t: number): number => Math.min(weeks - 1, Math.floor((t - input.start) / (7 * DAY)));

  const byPattern = Object.fromEntries(
    FRAUD_PATTERNS.map((p): [FraudPattern, PatternSummary] => [p, { incidents: 0, transactions: 0, rate: 0, amountEur: 0 }]),
  ) as Record<FraudPattern, PatternSummary>;
  for (const incident of input.incidents) if (incident.transactions.length > 0) byPattern[incident.pattern].incidents++;

  const byWeek: WeekSummary[] = Array.from({ length: weeks }, (_, week) => ({ week: week + 1, transactions: 0, fraud: 0, fraudRate: 0 }));
  const driftByWeek = Array.from({ length: weeks }, () => ({ amounts: [] as number[], hours: [] as number[], mccs: new Map<string, number>(), victimDevice: 0 }));
  let fraud = 0;
  let fraudAmount = 0;
  let harvested = 0;
  for (const t of transactions) {
    const week = byWeek[weekOf(t.eventTime)]!;
    week.transactions++;
    if (t.harvestedBy) harvested++;
    if (!t.fraud) continue;
    fraud++;
    week.fraud++;
    fraudAmount += t.amountEur;
    const summary = byPattern[t.fraud.pattern];
    summary.transactions++;
    summary.amountEur += t.amountEur;
    if (t.fraud.pattern === 'drifting') {
      const d = driftByWeek[weekOf(t.eventTime)]!;
      d.amounts.push(t.amountEur);
      d.hours.push(t.localHour);
      d.mccs.set(t.merchant.category.mcc, (d.mccs.get(t.merchant.category.mcc) ?? 0) + 1);
      if (t.device?.owner) d.victimDevice++;
    }
  }
  for (const s of Object.values(byPattern)) {
    s.rate = ratio(s.transactions, total);
    s.amountEur = round(s.amountEur, 2);
  }
  for (const w of byWeek) w.fraudRate = ratio(w.fraud, w.transactions);

  const reported = new Set<SimTransaction>();
  const delays: number[] = [];
  let fraudChargebacks = 0;
  let friendly = 0;
  let disputes = 0;
  for (const d of input.chargebacks.drafts) {
    if (d.kind === 'dispute') disputes++;
    else if (d.kind === 'friendly_fraud') friendly++;
    else {
      fraudChargebacks++;
      reported.add(d.txn);
      delays.push((d.reportedAt - d.txn.eventTime) / DAY);
    }
  }

  const analystDelays = input.analyst.drafts.map((d) => (d.decidedAt - d.txn.eventTime) / HOUR);
  const fraudOutcomes = input.analyst.drafts.filter((d) => d.fraud).length;
  const iso = (ms: number): string => new Date(ms).toISOString();

  return {
    seed: config.seed,
    period: { start: iso(input.start), end: iso(input.end), days: config.days, labelsUntil: iso(input.horizonEnd) },
    population: {
      customers: input.customers.length,
      cards: input.customers.reduce((s, c) => s + c.cards.length, 0),
      customerDevices: input.customers.reduce((s, c) => s + c.devices.length, 0),
      fraudsterDevices: input.fraudsterDevices,
      physicalMerchants: input.merchants.physical.length,
      onlineMerchants: input.merchants.online.length,
      terminals: input.merchants.terminals.length,
    },
    records: input.recordCounts,
    fraud: {
      transactions: fraud,
      rate: ratio(fraud, total),
      amountEur: round(fraudAmount, 2),
      byPattern,
      harvestedAtCompromisedTerminals: harvested,
      byWeek,
    },
    drift: driftByWeek.map((d, i) => ({
      week: i + 1,
      transactions: d.amounts.length,
      medianAmountEur: median(d.amounts),
      medianLocalHour: median(d.hours),
      topMccs: [...d.mccs.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3).map(([mcc]) => mcc),
      victimDeviceShare: d.amounts.length === 0 ? null : ratio(d.victimDevice, d.amounts.length),
    })),
    chargebacks: {
      fraud: fraudChargebacks,
      friendlyFraud: friendly,
      disputes,
      reportedShare: ratio(reported.size, fraud),
      timeBarred: input.chargebacks.timeBarred,
      beyondHorizon: input.chargebacks.beyondHorizon,
      fraudDelayDays: percentiles(delays),
    },
    analyst: {
      flagged: input.analyst.flagged,
      flaggedShare: ratio(input.analyst.flagged, total),
      flaggedPrecision: ratio(input.analyst.flaggedFraud, input.analyst.flagged),
      fraudFlaggedShare: ratio(input.analyst.flaggedFraud, fraud),
      reasons: Object.fromEntries(Object.entries(input.analyst.reasonCounts).sort(([a], [b]) => a.localeCompare(b))),
      outcomes: input.analyst.drafts.length,
      fraudOutcomes,
      legitimateOutcomes: input.analyst.drafts.length - fraudOutcomes,
      beyondHorizon: input.analyst.beyondHorizon,
      delayHours: percentiles(analystDelays),
    },
    config: { ...config, start: iso(config.start) },
  };
}

const pct = (x: number, digits = 3): string => `${(x * 100).toFixed(digits)}%`;

/** The summary as the lines `riskloop simulate` prints. */
export function formatSummary(s: SimulationSummary): string[] {
  const lines: string[] = [];
  lines.push(`seed ${s.seed}, ${s.period.days} days from ${s.period.start} (labels until ${s.period.labelsUntil})`);
  lines.push(
    `population: ${s.population.customers} customers, ${s.population.cards} cards, ${s.population.customerDevices} customer devices, ` +
      `${s.population.fraudsterDevices} fraudster devices, ${s.population.physicalMerchants} shops with ${s.population.terminals} terminals, ` +
      `${s.population.onlineMerchants} online merchants`,
  );
  const r = s.records;
  lines.push(
    `records: ${r.transactions} transactions, ${r.kyc} kyc, ${r.deviceSignals} device signals, ${r.chargebacks} chargebacks, ${r.analystOutcomes} analyst outcomes`,
  );
  lines.push(`fraud: ${s.fraud.transactions} of ${r.transactions} transactions = ${pct(s.fraud.rate)} (${s.fraud.amountEur.toFixed(2)} EUR)`);
  const width = Math.max(...FRAUD_PATTERNS.map((p) => p.length));
  for (const p of FRAUD_PATTERNS) {
    const b = s.fraud.byPattern[p];
    lines.push(`  ${p.padEnd(width)}  ${String(b.incidents).padStart(4)} incidents  ${String(b.transactions).padStart(6)} txns  ${pct(b.rate)}`);
  }
  lines.push(`  fraud rate by week: ${s.fraud.byWeek.map((w) => pct(w.fraudRate, 2)).join(' ')}`);
  lines.push(
    `  drifting pattern by week (median EUR @ median local hour): ${s.drift
      .map((d) => (d.transactions === 0 ? '-' : `${d.medianAmountEur}@${d.medianLocalHour}h`))
      .join(' ')}`,
  );
  const c = s.chargebacks;
  const d = c.fraudDelayDays;
  lines.push(
    `chargebacks: ${c.fraud} fraud, ${c.friendlyFraud} friendly fraud, ${c.disputes} disputes; ${pct(c.reportedShare, 1)} of fraud transactions reported ` +
      `(${c.timeBarred} time-barred, ${c.beyondHorizon} beyond the label horizon)`,
  );
  lines.push(`  fraud chargeback delay (days): min ${d.min}  p5 ${d.p5}  p25 ${d.p25}  p50 ${d.p50}  p75 ${d.p75}  p95 ${d.p95}  max ${d.max}`);
  const a = s.analyst;
  lines.push(
    `analyst proxy: ${a.flagged} flagged (${pct(a.flaggedShare, 2)} of transactions, ${pct(a.flaggedPrecision, 1)} fraud, ${pct(a.fraudFlaggedShare, 1)} of fraud flagged); ` +
      `${a.outcomes} outcomes (${a.fraudOutcomes} FRAUD, ${a.legitimateOutcomes} LEGITIMATE), delay p50 ${a.delayHours.p50} h, p95 ${a.delayHours.p95} h`,
  );
  return lines;
}
