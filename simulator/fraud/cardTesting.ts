/**
 * Card testing. A card number bought from a breach is checked with a burst of tiny authorisations
 * (a few seconds to a minute apart) at digital-goods and donation merchants that do not ask for
 * 3-D Secure, from a scripted device on a hosting IP; if the card works, a large purchase follows
 * within minutes to two hours, on the same device or one of the buyer's.
 *
 * Signature: many tiny amounts on one card within a minute or two, an unknown device, no
 * geolocation, no 3DS, then one large card-not-present payment.
 */
import type { SimTransaction } from '../model.js';
import { MINUTE, SECOND } from '../time.js';
import { type FraudContext, type FraudIncident, expectedIncidents, incidentId, incidentTimes, onlineMerchantByMcc, withinPeriod } from './incident.js';

/** Where testers probe: cheap digital goods and donations, which rarely challenge with 3DS. */
const PROBE_MCCS: Readonly<Record<string, number>> = { '5815': 3, '5816': 3, '8398': 2, '4899': 1, '5947': 1 };
/** Where the working card is cashed out. */
const CASH_OUT_MCCS: Readonly<Record<string, number>> = { '5732': 4, '5311': 3, '5947': 2, '4511': 1 };

export function cardTesting(ctx: FraudContext): FraudIncident[] {
  const { rng } = ctx;
  const p = ctx.config.fraud.cardTesting;
  const mean = expectedIncidents(p.incidentsPerThousandAccountDays, ctx.customers.length, ctx);
  return incidentTimes(rng, mean, ctx.start, ctx.end).map((startedAt, n): FraudIncident => {
    const id = incidentId('card_testing', n);
    const fraud = { pattern: 'card_testing' as const, incidentId: id };
    const victim = rng.pick(ctx.customers);
    const card = rng.pick(victim.cards);
    const device = ctx.farm.acquire(rng);
    const probeMerchants = Array.from({ length: rng.int(1, 3) }, () => onlineMerchantByMcc(rng, ctx.merchants, PROBE_MCCS));
    const txns: SimTransaction[] = [];
    let t = startedAt;
    const probes = rng.int(p.probes[0], p.probes[1]);
    for (let i = 0; i < probes; i++) {
      if (i > 0) t += Math.round(rng.uniform(p.probeGapSeconds[0], p.probeGapSeconds[1]) * SECOND);
      txns.push(
        ctx.factory.create({
          eventTime: t,
          card,
          merchant: rng.pick(probeMerchants),
          device,
          amountEur: rng.uniform(p.probeAmountEur[0], p.probeAmountEur[1]),
          ip: device.ip,
          fraud,
          session: i === 0 ? { accountId: null } : null,
        }),
      );
    }
    if (rng.chance(p.cashOutProbability)) {
      const sameDevice = rng.chance(0.5);
      const buyer = sameDevice ? device : ctx.farm.acquire(rng);
      txns.push(
        ctx.factory.create({
          eventTime: t + Math.round(rng.uniform(p.cashOutDelayMinutes[0], p.cashOutDelayMinutes[1]) * MINUTE),
          card,
          merchant: onlineMerchantByMcc(rng, ctx.merchants, CASH_OUT_MCCS),
          device: buyer,
          amountEur: rng.lognormal(p.cashOutMedianEur, p.cashOutSigma),
          threeDsAuthenticated: rng.chance(0.2) ? false : null,
          ip: buyer.ip,
          fraud,
          session: sameDevice ? null : { accountId: null },
        }),
      );
    }
    return { incidentId: id, pattern: 'card_testing', startedAt, transactions: withinPeriod(txns, ctx) };
  });
}
