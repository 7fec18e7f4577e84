/**
 * A fraud pattern whose signature shifts linearly over the simulated period, so that a model
 * trained on the early weeks degrades on the late ones: drift that is real, not noise.
 *
 * With f = (time − start) / (end − start) going from 0 to 1:
 *  - merchant mix moves from resellable goods (electronics, gift cards, marketplaces) towards
 *    money transfer, crypto exchanges and games: weight(mcc) = (1 − f)·early + f·late;
 *  - the median amount falls geometrically from medianAmountEurStart to medianAmountEurEnd
 *    (big tickets give way to many small ones), and the count per incident rises from
 *    transactionsStart to transactionsEnd;
 *  - the local hour moves from the night (localHourStart) to the afternoon (localHourEnd),
 *    normally distributed around the centre with a 1.5-hour spread;
 *  - the device goes from a farm device (new, hosting IP, far away) to the victim's own phone with
 *    probability f (remote-access malware and scams where the victim is talked through it), which
 *    then passes 3DS and sits at home;
 *  - the incident rate grows linearly from 0.5× to 1.5× of the configured mean.
 * Early on the pattern looks like textbook fraud (night, big, new device, abroad); late it looks
 * like an ordinary afternoon payment on a known device, except for the merchant mix.
 */
import type { Device, SimTransaction } from '../model.js';
import { DAY, HOUR, utcOnDay } from '../time.js';
import { CITIES } from '../world/cities.js';
import { type FraudContext, type FraudIncident, expectedIncidents, incidentId, incidentTimes, onlineMerchantByMcc, withinPeriod } from './incident.js';

const EARLY_MCCS: Readonly<Record<string, number>> = { '5732': 0.5, '5947': 0.3, '5311': 0.2 };
const LATE_MCCS: Readonly<Record<string, number>> = { '4829': 0.45, '6051': 0.4, '5816': 0.15 };
const HOUR_SPREAD = 1.5;

function mix(f: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [mcc, w] of Object.entries(EARLY_MCCS)) out[mcc] = (out[mcc] ?? 0) + (1 - f) * w;
  for (const [mcc, w] of Object.entries(LATE_MCCS)) out[mcc] = (out[mcc] ?? 0) + f * w;
  return out;
}

export function driftingPattern(ctx: FraudContext): FraudIncident[] {
  const { rng } = ctx;
  const p = ctx.config.fraud.drifting;
  const span = ctx.end - ctx.start;
  // Thinning: draw at the peak rate (1.5× the mean) and keep each with rate(t) / peak.
  const peak = 1.5 * expectedIncidents(p.incidentsPerThousandAccountDays, ctx.customers.length, ctx);
  const candidates = incidentTimes(rng, peak, ctx.start, ctx.end);
  const accepted = candidates.filter((t) => rng.chance((0.5 + (t - ctx.start) / span) / 1.5));
  return accepted.map((startedAt, n): FraudIncident => {
    const id = incidentId('drifting', n);
    const fraud = { pattern: 'drifting' as const, incidentId: id };
    const f = (startedAt - ctx.start) / span;
    const victim = rng.pick(ctx.customers);
    const card = rng.pick(victim.cards);
    const home = victim.homeCity;
    const ownPhone = victim.devices.filter((d) => d.kind !== 'web' && d.activeFrom <= startedAt).at(-1) ?? null;
    const onVictimDevice = ownPhone !== null && rng.chance(f);
    const device: Device = onVictimDevice ? ownPhone : ctx.farm.acquire(rng);
    const abroad = rng.pick(CITIES.filter((c) => c.country !== home.country));
    const median = p.medianAmountEurStart ** (1 - f) * p.medianAmountEurEnd ** f;
    const centre = p.localHourStart + f * (p.localHourEnd - p.localHourStart);
    const count = Math.max(1, Math.round(p.transactionsStart + f * (p.transactionsEnd - p.transactionsStart)) + rng.int(-1, 1));
    const weights = mix(f);
    const dayStart = ctx.start + Math.floor((startedAt - ctx.start) / DAY) * DAY;

    const times = Array.from({ length: count }, () => {
      const localHour = (((centre + HOUR_SPREAD * rng.normal()) % 24) + 24) % 24;
      // Local time of the victim's home: that is the clock the pattern keeps.
      return utcOnDay(dayStart, Math.floor(localHour * HOUR), home.utcOffsetHours);
    }).sort((a, b) => a - b);

    const txns: SimTransaction[] = times.map((eventTime, i) => {
      const geolocated = onVictimDevice || rng.chance(0.3);
      const where = onVictimDevice ? { lat: victim.homeLat, lon: victim.homeLon } : { lat: abroad.lat, lon: abroad.lon };
      return ctx.factory.create({
        eventTime,
        card,
        merchant: onlineMerchantByMcc(rng, ctx.merchants, weights),
        device,
        amountEur: rng.lognormal(median, p.amountSigma),
        // The victim approves the 3DS challenge on their own phone; farm devices avoid 3DS merchants.
        threeDsAuthenticated: onVictimDevice && rng.chance(0.7) ? true : null,
        lat: geolocated ? where.lat : null,
        lon: geolocated ? where.lon : null,
        ip: device.ip,
        fraud,
        session: !onVictimDevice && i === 0 ? { accountId: rng.chance(0.5) ? victim.accountId : null } : null,
        utcOffsetHours: home.utcOffsetHours,
      });
    });
    return { incidentId: id, pattern: 'drifting', startedAt: times[0]!, transactions: withinPeriod(txns, ctx) };
  });
}
