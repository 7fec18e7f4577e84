/**
 * What every fraud pattern is given and what it returns. An incident is one fraudster's attack on
 * one victim (or, for a compromised terminal, on every card harvested there); its transactions
 * carry the incident id in the truth output, never in the records the loop reads.
 */
import type { SimulatorConfig } from '../config.js';
import type { Customer, FraudPattern, Merchant, SimTransaction } from '../model.js';
import type { MerchantDirectory } from '../population/merchants.js';
import type { Random } from '../random.js';
import type { TransactionFactory } from '../transactionFactory.js';
import type { DeviceFarm } from './deviceFarm.js';

export interface FraudContext {
  /** The pattern's own stream (derived from the run's seed and the pattern name). */
  rng: Random;
  config: SimulatorConfig;
  start: number;
  end: number;
  customers: readonly Customer[];
  merchants: MerchantDirectory;
  /** Legitimate transactions, in creation order (the compromised terminal reads who paid where). */
  legit: readonly SimTransaction[];
  factory: TransactionFactory;
  farm: DeviceFarm;
}

export interface FraudIncident {
  incidentId: string;
  pattern: FraudPattern;
  startedAt: number;
  /** Only those inside the simulated period; an incident whose activity falls after it has none. */
  transactions: SimTransaction[];
}

/**
 * Start times of a pattern's incidents: a Poisson number with the given mean, uniform over the
 * period, in time order.
 */
export function incidentTimes(rng: Random, mean: number, start: number, end: number): number[] {
  const n = rng.poisson(mean);
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(start + Math.floor(rng.next() * (end - start)));
  return times.sort((a, b) => a - b);
}

/** Expected incidents of a per-1 000-unit-days rate over `units` for the run. */
export function expectedIncidents(ratePerThousandUnitDays: number, units: number, ctx: FraudContext): number {
  return (ratePerThousandUnitDays / 1000) * units * ctx.config.days * ctx.config.fraudScale;
}

export function incidentId(pattern: FraudPattern, n: number): string {
  return `${pattern}-${String(n + 1).padStart(4, '0')}`;
}

/** Online merchants drawn by a weight per MCC (MCCs not listed are never drawn). */
export function onlineMerchantByMcc(rng: Random, merchants: MerchantDirectory, weightByMcc: Readonly<Record<string, number>>): Merchant {
  return rng.weighted(merchants.online, (m) => weightByMcc[m.category.mcc] ?? 0);
}

/** Keeps only what falls inside the simulated period. */
export function withinPeriod(transactions: SimTransaction[], ctx: FraudContext): SimTransaction[] {
  return transactions.filter((t) => t.eventTime >= ctx.start && t.eventTime < ctx.end);
}
