/**
 * The simulated world and what happens in it, before anything is written as a record: customers
 * with their cards and devices, merchants with their terminals, and transactions that remember
 * who made them and whether they are fraud. Only the simulator sees these; the loop sees the
 * records built from them (schemas/types.ts), and the truth goes to a separate output.
 */
import type { Channel, EntityType } from '../schemas/types.js';
import type { SegmentName } from './config.js';
import type { City, Currency } from './world/cities.js';
import type { MerchantCategory } from './world/merchantCategories.js';

export const FRAUD_PATTERNS = [
  'compromised_terminal',
  'stolen_credentials',
  'account_takeover',
  'card_testing',
  'drifting',
] as const;
export type FraudPattern = (typeof FRAUD_PATTERNS)[number];

export interface Card {
  pan: string;
  account: Customer;
}

export type DeviceKind = 'ios' | 'android' | 'web';

export interface Device {
  deviceId: string;
  kind: DeviceKind;
  os: string;
  /** Web sessions only. */
  userAgent: string | null;
  /** Usual IP of the device (its home connection or carrier). */
  ip: string;
  emulator: boolean;
  rooted: boolean;
  /** On the block list from the start (a few legitimate devices are, wrongly). */
  blockedFromStart: boolean;
  /** The customer it belongs to; null for fraudster devices. */
  owner: Customer | null;
  /** From when the customer uses it; earlier transactions pick another of their devices. */
  activeFrom: number;
}

export interface Customer {
  index: number;
  accountId: string;
  segment: SegmentName;
  entityType: EntityType;
  homeCity: City;
  homeLat: number;
  homeLon: number;
  homeCurrency: Currency;
  /** Mean transactions per day. */
  dailyRate: number;
  medianAmountEur: number;
  amountSigma: number;
  onlineShare: number;
  cards: Card[];
  devices: Device[];
  preferredLocal: Merchant[];
  preferredLocalWeights: number[];
  preferredOnline: Merchant[];
  preferredOnlineWeights: number[];
}

export interface Terminal {
  terminalId: string;
  merchant: Merchant;
}

export interface Merchant {
  merchantId: string;
  name: string;
  category: MerchantCategory;
  /** Null for online merchants. */
  city: City | null;
  lat: number | null;
  lon: number | null;
  country: string;
  currency: Currency;
  terminals: Terminal[];
  /** Online merchants: share of payments they put through 3-D Secure. */
  threeDsShare: number;
}

export interface Session {
  accountId: string | null;
  startedAt?: number;
}

export interface FraudMark {
  pattern: FraudPattern;
  incidentId: string;
}

/** A transaction as the simulator knows it: the record-to-be plus the truth behind it. */
export interface SimTransaction {
  /** Creation order; breaks ties between equal event times so sorting is deterministic. */
  seq: number;
  eventTime: number;
  card: Card;
  merchant: Merchant;
  terminal: Terminal | null;
  device: Device | null;
  channel: Channel;
  amountEur: number;
  amountMinor: number;
  currency: string;
  threeDsAuthenticated: boolean | null;
  lat: number | null;
  lon: number | null;
  ip: string | null;
  fraud: FraudMark | null;
  /**
   * Set on the first fraud transaction of an incident on a device: a new SDK session, logged in as
   * `accountId` (null for a guest checkout), starting at `startedAt` (default: seconds before).
   */
  session: Session | null;
  /** Set on legit transactions at a compromised terminal whose card the gang harvested. */
  harvestedBy: string | null;
  /** Local hour of day at the place of the transaction (for the drift summary). */
  localHour: number;
  /** Assigned once all transactions are sorted. */
  transactionId: string;
}
