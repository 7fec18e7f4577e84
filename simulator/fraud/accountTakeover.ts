/**
 * Account takeover. The fraudster logs into the victim's account (phished password, SIM swap) from
 * a new device in a city far from the victim's home, then spends big online within hours. Being
 * logged in, the device signal carries the victim's account token, and the fraudster can often
 * pass 3DS through the app.
 *
 * Signature: a device first seen minutes before, logged in as the account; location and IP far
 * from home (at least minDistanceKm); high amounts at electronics, money transfer, crypto and
 * gift cards.
 */
import { haversineKm } from '../../processors/geo.js';
import type { SimTransaction } from '../model.js';
import { jitteredLocation } from '../population/merchants.js';
import { HOUR, MINUTE } from '../time.js';
import { CITIES } from '../world/cities.js';
import { residentialIp } from '../world/ipAddresses.js';
import { type FraudContext, type FraudIncident, expectedIncidents, incidentId, incidentTimes, onlineMerchantByMcc, withinPeriod } from './incident.js';

const MCC_WEIGHTS: Readonly<Record<string, number>> = { '5732': 3, '4829': 3, '6051': 2, '5947': 2, '4722': 1 };

export function accountTakeover(ctx: FraudContext): FraudIncident[] {
  const { rng } = ctx;
  const p = ctx.config.fraud.accountTakeover;
  const mean = expectedIncidents(p.incidentsPerThousandAccountDays, ctx.customers.length, ctx);
  return incidentTimes(rng, mean, ctx.start, ctx.end).map((startedAt, n): FraudIncident => {
    const id = incidentId('account_takeover', n);
    const fraud = { pattern: 'account_takeover' as const, incidentId: id };
    const victim = rng.pick(ctx.customers);
    const home = { lat: victim.homeLat, lon: victim.homeLon };
    const far = CITIES.filter((c) => haversineKm(home, c) >= p.minDistanceKm);
    const base = far.length > 0 ? rng.pick(far) : rng.pick(CITIES);
    const where = jitteredLocation(rng, base);
    const device = ctx.farm.acquire(rng);
    const card = rng.pick(victim.cards);
    const span = rng.uniform(p.spanHours[0], p.spanHours[1]) * HOUR;
    const count = rng.int(p.transactions[0], p.transactions[1]);
    const offsets = Array.from({ length: count }, (_, i) => (i === 0 ? 0 : Math.floor(rng.next() * span))).sort((a, b) => a - b);
    // The login precedes the first payment by a few minutes (browsing, adding a payee).
    const loginLeadMs = Math.round(rng.uniform(2, 30) * MINUTE);
    const ip = rng.chance(0.6) ? residentialIp(rng, base.country) : device.ip;
    const txns: SimTransaction[] = offsets.map((offset, i) => {
      const geolocated = rng.chance(0.8);
      const threeDs = rng.weightedIndex([0.4, 0.5, 0.1]);
      return ctx.factory.create({
        eventTime: startedAt + offset,
        card,
        merchant: onlineMerchantByMcc(rng, ctx.merchants, MCC_WEIGHTS),
        device,
        amountEur: rng.lognormal(p.medianAmountEur, p.amountSigma),
        threeDsAuthenticated: threeDs === 0 ? null : threeDs === 1,
        lat: geolocated ? where.lat : null,
        lon: geolocated ? where.lon : null,
        ip,
        fraud,
        // Logged in as the victim: the login is the device's session start.
        session: i === 0 ? { accountId: victim.accountId, startedAt: startedAt - loginLeadMs } : null,
        utcOffsetHours: base.utcOffsetHours,
      });
    });
    return { incidentId: id, pattern: 'account_takeover', startedAt, transactions: withinPeriod(txns, ctx) };
  });
}
