/**
 * Customers: one account each, with a segment that sets their spending habits, a home near a real
 * city centre, 1-2 cards, 1-3 devices (and now and then a new one), and the merchants they
 * habitually buy from. Habits are per customer: the daily rate and typical amount vary around the
 * segment's values, so velocity and amount features have a real per-account baseline.
 */
import type { PopulationConfig, SegmentName } from '../config.js';
import type { Customer, Device, DeviceKind, Merchant } from '../model.js';
import type { PanIssuer } from '../pan.js';
import type { Random } from '../random.js';
import { DAY } from '../time.js';
import { CITIES, currencyOfCountry } from '../world/cities.js';
import type { DeviceFactory } from './devices.js';
import { jitteredLocation, type MerchantDirectory } from './merchants.js';

/** Home locations spread wider than shops: about 8 km around the centre. */
const HOME_JITTER_DEG = 0.08;
export const SECOND_CARD_SHARE = 0.3;

/** Up to `count` distinct items, drawn by weight; fewer when the pool is small. */
function distinctWeighted<T>(rng: Random, pool: readonly T[], count: number, weightOf: (item: T) => number): T[] {
  const chosen: T[] = [];
  const seen = new Set<T>();
  for (let attempt = 0; attempt < count * 4 && chosen.length < count && seen.size < pool.length; attempt++) {
    const item = rng.weighted(pool, weightOf);
    if (seen.has(item)) continue;
    seen.add(item);
    chosen.push(item);
  }
  return chosen;
}

/** Habit weights for preferred merchants: the favourite is used most (Zipf-like, exponent 0.8). */
function habitWeights(n: number): number[] {
  return Array.from({ length: n }, (_, rank) => 1 / (rank + 1) ** 0.8);
}

export interface CustomerBuildContext {
  rng: Random;
  config: PopulationConfig;
  merchants: MerchantDirectory;
  devices: DeviceFactory;
  pans: PanIssuer;
  start: number;
  end: number;
}

export function buildCustomers(count: number, ctx: CustomerBuildContext): Customer[] {
  const { rng, config } = ctx;
  const segmentNames = Object.keys(config.segments) as SegmentName[];
  const homeCities = CITIES.filter((c) => c.homeWeight > 0);
  const everydayOnline = ctx.merchants.online.filter((m) => !m.category.highRisk);
  const highRiskOnline = ctx.merchants.online.filter((m) => m.category.highRisk);
  const customers: Customer[] = [];

  for (let index = 0; index < count; index++) {
    const segment = rng.weighted(segmentNames, (s) => config.segments[s].share);
    const habits = config.segments[segment];
    const homeCity = rng.weighted(homeCities, (c) => c.homeWeight);
    const home = jitteredLocation(rng, homeCity, HOME_JITTER_DEG);
    // A median-1 lognormal would raise the mean rate; dividing by exp(σ²/2) keeps the segment's mean.
    const sigma = config.rateDispersion;
    const rateFactor = Math.exp(sigma * rng.normal() - (sigma * sigma) / 2);
    const customer: Customer = {
      index,
      accountId: `ACC-${String(index + 1).padStart(6, '0')}`,
      segment,
      entityType: segment === 'business' ? 'BUSINESS' : 'PERSON',
      homeCity,
      homeLat: home.lat,
      homeLon: home.lon,
      homeCurrency: currencyOfCountry(homeCity.country),
      dailyRate: habits.dailyRate * rateFactor,
      medianAmountEur: habits.medianAmountEur * rng.lognormal(1, 0.3),
      amountSigma: habits.amountSigma,
      onlineShare: Math.min(0.95, Math.max(0.02, habits.onlineShare + 0.1 * rng.normal())),
      cards: [],
      devices: [],
      preferredLocal: [],
      preferredLocalWeights: [],
      preferredOnline: [],
      preferredOnlineWeights: [],
    };

    const cardCount = rng.chance(SECOND_CARD_SHARE) ? 2 : 1;
    for (let i = 0; i < cardCount; i++) customer.cards.push({ pan: ctx.pans.issue(), account: customer });

    const phone: DeviceKind = rng.chance(0.45) ? 'ios' : 'android';
    const devices: Device[] = [ctx.devices.customerDevice(customer, phone, Number.NEGATIVE_INFINITY)];
    if (rng.chance(0.5)) devices.push(ctx.devices.customerDevice(customer, 'web', Number.NEGATIVE_INFINITY));
    if (rng.chance(0.15)) devices.push(ctx.devices.customerDevice(customer, 'ios', Number.NEGATIVE_INFINITY));
    const newDevices = rng.poisson((config.newDevicesPerYear / 365) * ((ctx.end - ctx.start) / DAY));
    const activations = Array.from({ length: newDevices }, () => ctx.start + Math.floor(rng.next() * (ctx.end - ctx.start))).sort(
      (a, b) => a - b,
    );
    for (const activeFrom of activations) {
      devices.push(ctx.devices.customerDevice(customer, rng.chance(0.8) ? phone : 'web', activeFrom));
    }
    customer.devices = devices;

    const local = ctx.merchants.byCity.get(homeCity.name) ?? [];
    customer.preferredLocal = distinctWeighted(rng, local, rng.int(4, 12), (m) => m.category.merchantWeight);
    customer.preferredLocalWeights = habitWeights(customer.preferredLocal.length);
    const online: Merchant[] = distinctWeighted(rng, everydayOnline, rng.int(2, 6), (m) => m.category.merchantWeight);
    if (highRiskOnline.length > 0 && rng.chance(0.08)) online.push(rng.pick(highRiskOnline));
    customer.preferredOnline = online;
    customer.preferredOnlineWeights = habitWeights(online.length);
    customers.push(customer);
  }
  return customers;
}
