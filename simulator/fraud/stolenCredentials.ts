/**
 * Stolen card credentials (phished or bought card details: number, expiry, CVV) used online at
 * many different merchants in a few hours, before the card is blocked: electronics, marketplaces,
 * gift cards and travel, things that resell. The fraudster works from a farm device behind a
 * hosting IP or a residential proxy abroad, mostly at merchants that do not challenge with 3DS.
 *
 * Signature: a run of card-not-present payments at distinct merchants within hours, on a device
 * the account never used, from far away, without (or with failed) 3DS.
 */
import type { Merchant, SimTransaction } from '../model.js';
import { HOUR } from '../time.js';
import { CITIES } from '../world/cities.js';
import { residentialIp } from '../world/ipAddresses.js';
import { type FraudContext, type FraudIncident, expectedIncidents, incidentId, incidentTimes, onlineMerchantByMcc, withinPeriod } from './incident.js';

const MCC_WEIGHTS: Readonly<Record<string, number>> = {
  '5732': 3,
  '5311': 3,
  '5651': 2,
  '5947': 3,
  '4722': 1,
  '4511': 1,
  '5816': 1,
  '6051': 1,
};

export function stolenCredentials(ctx: FraudContext): FraudIncident[] {
  const { rng } = ctx;
  const p = ctx.config.fraud.stolenCredentials;
  const mean = expectedIncidents(p.incidentsPerThousandAccountDays, ctx.customers.length, ctx);
  return incidentTimes(rng, mean, ctx.start, ctx.end).map((startedAt, n): FraudIncident => {
    const id = incidentId('stolen_credentials', n);
    const fraud = { pattern: 'stolen_credentials' as const, incidentId: id };
    const victim = rng.pick(ctx.customers);
    const card = rng.pick(victim.cards);
    const device = ctx.farm.acquire(rng);
    const base = rng.pick(CITIES.filter((c) => c.country !== victim.homeCity.country));
    const span = rng.uniform(p.spanHours[0], p.spanHours[1]) * HOUR;
    const count = rng.int(p.transactions[0], p.transactions[1]);
    const offsets = Array.from({ length: count }, (_, i) => (i === 0 ? 0 : Math.floor(rng.next() * span))).sort((a, b) => a - b);
    const used = new Set<Merchant>();
    const txns: SimTransaction[] = offsets.map((offset, i) => {
      // Distinct merchants where possible: spreading the spend is the point of the pattern.
      let merchant = onlineMerchantByMcc(rng, ctx.merchants, MCC_WEIGHTS);
      for (let tries = 0; used.has(merchant) && tries < 5; tries++) merchant = onlineMerchantByMcc(rng, ctx.merchants, MCC_WEIGHTS);
      used.add(merchant);
      const geolocated = rng.chance(0.3);
      const threeDs = rng.weightedIndex([0.7, 0.2, 0.1]);
      return ctx.factory.create({
        eventTime: startedAt + offset,
        card,
        merchant,
        device,
        amountEur: rng.lognormal(p.medianAmountEur, p.amountSigma),
        threeDsAuthenticated: threeDs === 0 ? null : threeDs === 2,
        lat: geolocated ? base.lat : null,
        lon: geolocated ? base.lon : null,
        ip: rng.chance(0.5) ? device.ip : residentialIp(rng, base.country),
        fraud,
        session: i === 0 ? { accountId: null } : null,
        utcOffsetHours: base.utcOffsetHours,
      });
    });
    return { incidentId: id, pattern: 'stolen_credentials', startedAt, transactions: withinPeriod(txns, ctx) };
  });
}
