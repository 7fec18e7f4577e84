/**
 * One simulation run: the world, a period of legitimate spending, the fraud patterns mixed in,
 * and the labels that come back, as the records of the loop's ingress topics plus the truth.
 *
 * Order of work (each step draws from its own derived random stream):
 *   merchants → customers (cards, devices, habits) → legit spending → fraud patterns
 *   → all transactions sorted by event time, ids assigned in that order
 *   → chargebacks and analyst outcomes (which also block fraudster devices) → device signals → KYC.
 *
 * Records are keyed as the catalogue says: account-keyed topics by the account token, which the
 * caller computes (`keyFor`: the simulator holds no key material), device signals by device id.
 * Every topic's records are sorted by their timestamp (the record's event time: eventTime,
 * updatedAt, reportedAt or decidedAt); ties keep generation order, so sorting is deterministic.
 *
 * Ids are `<kind>.<run tag>.<sequence>`, the run tag being the first 8 hex digits of the SHA-256
 * of the parsed config: the same config always gives the same ids, and runs with different
 * configs written to one cluster do not collide. The dots matter: ingress takes 12 or more digits
 * in a row, or digit groups joined by '-' or ' ', for a PAN and pseudonymises the id
 * (schemas/redactPan.ts); a tag ending in six digits joined by '-' to a sequence starting with six
 * would be one.
 */
import { createHash } from 'node:crypto';
import type { AnalystOutcome, Chargeback, DeviceSignal, KycRecord, Transaction } from '../schemas/types.js';
import { SimulatorConfig, type SimulatorConfigInput, simulationEnd } from './config.js';
import { generateDeviceSignals } from './deviceSignals.js';
import { accountTakeover } from './fraud/accountTakeover.js';
import { cardTesting } from './fraud/cardTesting.js';
import { compromisedTerminal } from './fraud/compromisedTerminal.js';
import { DeviceFarm } from './fraud/deviceFarm.js';
import { driftingPattern } from './fraud/driftingPattern.js';
import type { FraudContext, FraudIncident } from './fraud/incident.js';
import { stolenCredentials } from './fraud/stolenCredentials.js';
import { generateKyc } from './kyc.js';
import { draftAnalystOutcomes } from './labels/analystOutcomes.js';
import { draftChargebacks } from './labels/chargebacks.js';
import { generateLegitSpending } from './legitSpending.js';
import type { FraudPattern, SimTransaction } from './model.js';
import { PanIssuer } from './pan.js';
import { buildCustomers } from './population/customers.js';
import { DeviceFactory } from './population/devices.js';
import { buildMerchants } from './population/merchants.js';
import { Random } from './random.js';
import { type SimulationSummary, summarize } from './summary.js';
import { DAY } from './time.js';
import { TransactionFactory } from './transactionFactory.js';

/** A record as it goes to Kafka: string key, record timestamp (event time), value. */
export interface KeyedRecord<T> {
  key: string;
  timestamp: number;
  value: T;
}

/** The simulated ingress topics (catalogue topic ids), in the order a merge emits equal timestamps. */
export const SIMULATED_TOPICS = ['kyc', 'deviceSignals', 'transactions', 'chargebacks', 'analystOutcomes'] as const;
export type SimulatedTopic = (typeof SIMULATED_TOPICS)[number];

export interface SimulatedRecords {
  kyc: KeyedRecord<KycRecord>[];
  deviceSignals: KeyedRecord<DeviceSignal>[];
  transactions: KeyedRecord<Transaction>[];
  chargebacks: KeyedRecord<Chargeback>[];
  analystOutcomes: KeyedRecord<AnalystOutcome>[];
}

/** What really happened to a transaction. Never part of a record the loop reads. */
export interface TruthRecord {
  transactionId: string;
  eventTime: number;
  fraud: boolean;
  pattern: FraudPattern | null;
  incidentId: string | null;
  /** Legit transaction at a compromised terminal whose card the gang harvested: that incident's id. */
  harvestedBy: string | null;
}

export interface SimulationResult {
  records: SimulatedRecords;
  /** One entry per transaction, in the order of the transactions topic. */
  truth: TruthRecord[];
  summary: SimulationSummary;
}

export interface SimulateOptions {
  /** The account token of an account id (the producer SDK's HMAC under the account-token key). */
  keyFor: (accountId: string) => string;
}

function runTag(config: SimulatorConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 8);
}

const sequence = (n: number, width: number): string => n.toString(36).padStart(width, '0');

function toTransaction(t: SimTransaction): Transaction {
  return {
    transactionId: t.transactionId,
    eventTime: t.eventTime,
    accountId: t.card.account.accountId,
    pan: t.card.pan,
    amountMinor: t.amountMinor,
    currency: t.currency,
    merchantId: t.merchant.merchantId,
    merchantName: t.merchant.name,
    terminalId: t.terminal?.terminalId ?? null,
    mcc: t.merchant.category.mcc,
    merchantCountry: t.merchant.country,
    channel: t.channel,
    cardPresent: t.channel === 'POS' || t.channel === 'ATM',
    threeDsAuthenticated: t.threeDsAuthenticated,
    lat: t.lat,
    lon: t.lon,
    deviceId: t.device?.deviceId ?? null,
    ip: t.ip,
  };
}

export function simulate(input: SimulatorConfigInput, options: SimulateOptions): SimulationResult {
  const config = SimulatorConfig.parse(input);
  const root = new Random(config.seed);
  const start = config.start;
  const end = simulationEnd(config);
  const horizonEnd = end + config.labelTailDays * DAY;
  const tag = runTag(config);
  const tokens = new Map<string, string>();
  const keyFor = (accountId: string): string => {
    let token = tokens.get(accountId);
    if (token === undefined) {
      token = options.keyFor(accountId);
      tokens.set(accountId, token);
    }
    return token;
  };

  const merchants = buildMerchants(root.derive('merchants'), config.customers, config.population);
  const deviceIds = new Set<string>();
  const customers = buildCustomers(config.customers, {
    rng: root.derive('customers'),
    config: config.population,
    merchants,
    devices: new DeviceFactory(root.derive('customer-devices'), deviceIds),
    pans: new PanIssuer(root.derive('pans')),
    start,
    end,
  });
  const factory = new TransactionFactory();
  const legit = generateLegitSpending(customers, { rng: root.derive('legit'), config: config.population, merchants, factory, start, days: config.days });

  const farm = new DeviceFarm(new DeviceFactory(root.derive('fraudster-devices'), deviceIds), config.fraud.deviceReuseProbability);
  const context = (pattern: FraudPattern): FraudContext => ({
    rng: root.derive(`fraud:${pattern}`),
    config,
    start,
    end,
    customers,
    merchants,
    legit,
    factory,
    farm,
  });
  const incidents: FraudIncident[] = [
    ...compromisedTerminal(context('compromised_terminal')),
    ...stolenCredentials(context('stolen_credentials')),
    ...accountTakeover(context('account_takeover')),
    ...cardTesting(context('card_testing')),
    ...driftingPattern(context('drifting')),
  ];

  const transactions = legit.concat(incidents.flatMap((i) => i.transactions));
  transactions.sort((a, b) => a.eventTime - b.eventTime || a.seq - b.seq);
  transactions.forEach((t, i) => (t.transactionId = `tx.${tag}.${sequence(i, 7)}`));
  const order = new Map<SimTransaction, number>(transactions.map((t, i) => [t, i]));

  const chargebacks = draftChargebacks(root.derive('chargebacks'), transactions, config.labels, horizonEnd);
  chargebacks.drafts.sort((a, b) => a.reportedAt - b.reportedAt || order.get(a.txn)! - order.get(b.txn)!);
  const analyst = draftAnalystOutcomes(root.derive('analyst-outcomes'), transactions, config.labels, horizonEnd);
  analyst.drafts.sort((a, b) => a.decidedAt - b.decidedAt || order.get(a.txn)! - order.get(b.txn)!);
  const signals = generateDeviceSignals(
    root.derive('device-signals'),
    transactions,
    [...chargebacks.blocks, ...analyst.blocks],
    keyFor,
    horizonEnd,
  );
  const kyc = generateKyc(root.derive('kyc'), customers, start, end, keyFor);
  kyc.sort((a, b) => a.record.updatedAt - b.record.updatedAt);

  const records: SimulatedRecords = {
    kyc: kyc.map(({ customer, record }) => ({ key: keyFor(customer.accountId), timestamp: record.updatedAt, value: record })),
    deviceSignals: signals.map((s) => ({ key: s.deviceId, timestamp: s.eventTime, value: s })),
    transactions: transactions.map((t) => ({ key: keyFor(t.card.account.accountId), timestamp: t.eventTime, value: toTransaction(t) })),
    chargebacks: chargebacks.drafts.map((d, i) => {
      const accountId = d.txn.card.account.accountId;
      const value: Chargeback = {
        chargebackId: `cb.${tag}.${sequence(i, 6)}`,
        transactionId: d.txn.transactionId,
        accountId,
        reasonCode: d.reasonCode,
        amountMinor: d.amountMinor,
        currency: d.txn.currency,
        reportedAt: d.reportedAt,
        fraud: d.kind !== 'dispute',
      };
      return { key: keyFor(accountId), timestamp: d.reportedAt, value };
    }),
    analystOutcomes: analyst.drafts.map((d, i) => {
      const key = keyFor(d.txn.card.account.accountId);
      const value: AnalystOutcome = {
        transactionId: d.txn.transactionId,
        accountToken: key,
        outcome: d.fraud ? 'FRAUD' : 'LEGITIMATE',
        analystId: d.analystId,
        caseId: `case.${tag}.${sequence(i, 6)}`,
        decidedAt: d.decidedAt,
      };
      return { key, timestamp: d.decidedAt, value };
    }),
  };

  const truth = transactions.map(
    (t): TruthRecord => ({
      transactionId: t.transactionId,
      eventTime: t.eventTime,
      fraud: t.fraud !== null,
      pattern: t.fraud?.pattern ?? null,
      incidentId: t.fraud?.incidentId ?? null,
      harvestedBy: t.harvestedBy,
    }),
  );

  const summary = summarize({
    config,
    start,
    end,
    horizonEnd,
    customers,
    merchants,
    fraudsterDevices: farm.size,
    transactions,
    incidents,
    chargebacks,
    analyst,
    recordCounts: {
      transactions: records.transactions.length,
      kyc: records.kyc.length,
      deviceSignals: records.deviceSignals.length,
      chargebacks: records.chargebacks.length,
      analystOutcomes: records.analystOutcomes.length,
    },
  });
  return { records, truth, summary };
}
