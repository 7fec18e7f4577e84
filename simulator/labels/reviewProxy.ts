/**
 * Which transactions an analyst would have looked at. The simulator cannot know the loop's real
 * decisions offline (they depend on the model and rules deployed when the data is replayed), so
 * analyst outcomes are given for a proxy: a handful of simple, observable rules of the kind every
 * fraud team starts with. Each rule reads only what was known at the transaction's event time
 * (earlier transactions, the devices seen so far, the customer's home from KYC) and never the
 * truth:
 *
 *   LARGE_AMOUNT       amount of at least 1 000 EUR (equivalent)
 *   NEW_DEVICE_CNP     card-not-present on a device first seen less than 24 h ago
 *                      (devices the customer had before the simulated period count as known)
 *   EMULATOR           card-not-present on a device the SDK reported as an emulator
 *   BURST              the card's 4th or later transaction within 10 minutes
 *   HIGH_RISK_MCC      a high-risk merchant category and at least 200 EUR
 *   FAR_FROM_HOME_CP   card-present more than 1 500 km from home and at least 300 EUR
 *
 * The proxy flags a transaction when any rule matches; `analystCoverage` of those are worked.
 */
import { haversineKm } from '../../processors/geo.js';
import type { Card, Device, SimTransaction } from '../model.js';
import { DAY, MINUTE } from '../time.js';

export type ReviewReason = 'LARGE_AMOUNT' | 'NEW_DEVICE_CNP' | 'EMULATOR' | 'BURST' | 'HIGH_RISK_MCC' | 'FAR_FROM_HOME_CP';

const LARGE_AMOUNT_EUR = 1000;
const NEW_DEVICE_MS = DAY;
const BURST_WINDOW_MS = 10 * MINUTE;
const BURST_COUNT = 4;
const HIGH_RISK_AMOUNT_EUR = 200;
const FAR_KM = 1500;
const FAR_AMOUNT_EUR = 300;

/** Feed transactions in event-time order; each call sees only what came before. */
export class ReviewProxy {
  private readonly deviceFirstSeen = new Map<Device, number>();
  private readonly recentByCard = new Map<Card, number[]>();

  reasons(txn: SimTransaction): ReviewReason[] {
    const reasons: ReviewReason[] = [];
    const cardNotPresent = txn.channel === 'ECOM' || txn.channel === 'MOTO';
    if (txn.amountEur >= LARGE_AMOUNT_EUR) reasons.push('LARGE_AMOUNT');

    if (txn.device) {
      const known = txn.device.owner !== null && txn.device.activeFrom === Number.NEGATIVE_INFINITY;
      const firstSeen = this.deviceFirstSeen.get(txn.device) ?? txn.eventTime;
      if (!this.deviceFirstSeen.has(txn.device)) this.deviceFirstSeen.set(txn.device, firstSeen);
      if (cardNotPresent && !known && txn.eventTime - firstSeen < NEW_DEVICE_MS) reasons.push('NEW_DEVICE_CNP');
      if (cardNotPresent && txn.device.emulator) reasons.push('EMULATOR');
    }

    const recent = (this.recentByCard.get(txn.card) ?? []).filter((t) => txn.eventTime - t < BURST_WINDOW_MS);
    if (recent.length + 1 >= BURST_COUNT) reasons.push('BURST');
    recent.push(txn.eventTime);
    this.recentByCard.set(txn.card, recent);

    if (txn.merchant.category.highRisk && txn.amountEur >= HIGH_RISK_AMOUNT_EUR) reasons.push('HIGH_RISK_MCC');
    if (!cardNotPresent && txn.lat !== null && txn.lon !== null && txn.amountEur >= FAR_AMOUNT_EUR) {
      const account = txn.card.account;
      if (haversineKm({ lat: account.homeLat, lon: account.homeLon }, { lat: txn.lat, lon: txn.lon }) > FAR_KM) reasons.push('FAR_FROM_HOME_CP');
    }
    return reasons;
  }
}
