/**
 * Legitimate spending, customer by customer and day by day:
 *  - the number of transactions on a day is Poisson with the customer's daily rate times the
 *    weekday factor;
 *  - each is card-not-present with the customer's online share (a small part of those MOTO),
 *    otherwise at a physical merchant: mostly the customer's preferred local ones, sometimes any
 *    merchant of the city;
 *  - customers go on trips (a few a year, 2-7 days, mostly abroad), during which they pay at
 *    merchants of the destination, which gives the loop honest far-from-home transactions;
 *  - the time of day follows the hourly profile of the channel, in local time;
 *  - the amount is lognormal around the customer's median times the merchant category's factor.
 * Each customer draws from their own derived stream, so adding customers does not change the
 * spending of the existing ones.
 */
import type { PopulationConfig } from './config.js';
import type { Customer, Device, Merchant, SimTransaction } from './model.js';
import type { MerchantDirectory } from './population/merchants.js';
import { jitteredLocation } from './population/merchants.js';
import type { Random } from './random.js';
import { DAY, ONLINE_HOURLY_WEIGHTS, POS_HOURLY_WEIGHTS, WEEKDAY_FACTORS, drawTimeOfDay, utcOnDay, weekdayOf } from './time.js';
import type { TransactionFactory } from './transactionFactory.js';
import { CITIES, type City } from './world/cities.js';
import { residentialIp } from './world/ipAddresses.js';

/** Smallest legit ticket (a transit fare). */
const MIN_AMOUNT_EUR = 0.5;
/** Share of card-not-present payments that report a device geolocation. */
const GEOLOCATED_SHARE = 0.6;
/** Share of device payments from another network than the device's usual one (mobile data, hotel wifi). */
const OTHER_NETWORK_SHARE = 0.2;
/** Weight of phones against web devices when a customer pays online. */
const PHONE_WEIGHT = 0.7;

/** The newest active device of each kind: a replaced phone is no longer used once the new one is. */
function activeDevices(customer: Customer, at: number): Device[] {
  const newest = new Map<string, Device>();
  for (const d of customer.devices) {
    if (d.activeFrom > at) continue;
    const current = newest.get(d.kind);
    if (!current || d.activeFrom >= current.activeFrom) newest.set(d.kind, d);
  }
  return [...newest.values()];
}

function tripDestination(rng: Random, home: City, abroadShare: number): City {
  const domestic = CITIES.filter((c) => c.country === home.country && c.name !== home.name);
  if (domestic.length > 0 && !rng.chance(abroadShare)) return rng.pick(domestic);
  return rng.weighted(
    CITIES.filter((c) => c.country !== home.country),
    (c) => c.homeWeight + 1,
  );
}

export interface LegitSpendingContext {
  rng: Random;
  config: PopulationConfig;
  merchants: MerchantDirectory;
  factory: TransactionFactory;
  start: number;
  days: number;
}

export function generateLegitSpending(customers: readonly Customer[], ctx: LegitSpendingContext): SimTransaction[] {
  const out: SimTransaction[] = [];
  const { config, merchants, factory } = ctx;
  const tripStartProbability = config.tripsPerYear / 365;

  for (const customer of customers) {
    const rng = ctx.rng.derive(`customer:${customer.index}`);
    let trip: { city: City; location: { lat: number; lon: number }; daysLeft: number } | null = null;

    for (let day = 0; day < ctx.days; day++) {
      const dayStart = ctx.start + day * DAY;
      if (trip && trip.daysLeft <= 0) trip = null;
      if (!trip && rng.chance(tripStartProbability)) {
        const city = tripDestination(rng, customer.homeCity, config.tripAbroadShare);
        trip = { city, location: jitteredLocation(rng, city), daysLeft: rng.int(config.tripDays[0], config.tripDays[1]) };
      }
      const city = trip?.city ?? customer.homeCity;
      const here = trip?.location ?? { lat: customer.homeLat, lon: customer.homeLon };

      const count = rng.poisson(customer.dailyRate * WEEKDAY_FACTORS[weekdayOf(dayStart)]!);
      for (let i = 0; i < count; i++) {
        const card = rng.pick(customer.cards);
        if (rng.chance(customer.onlineShare)) {
          const eventTime = utcOnDay(dayStart, drawTimeOfDay(rng, ONLINE_HOURLY_WEIGHTS), city.utcOffsetHours);
          const merchant: Merchant =
            customer.preferredOnline.length > 0 && rng.chance(0.9)
              ? customer.preferredOnline[rng.weightedIndex(customer.preferredOnlineWeights)]!
              : rng.weighted(merchants.online, (m) => (m.category.highRisk ? 0 : m.category.merchantWeight));
          const amountEur = Math.max(MIN_AMOUNT_EUR, customer.medianAmountEur * merchant.category.amountFactor * rng.lognormal(1, customer.amountSigma));
          if (rng.chance(config.motoShare)) {
            out.push(factory.create({ eventTime, card, merchant, channel: 'MOTO', amountEur, utcOffsetHours: city.utcOffsetHours }));
            continue;
          }
          const devices = activeDevices(customer, eventTime);
          const device = rng.weighted(devices, (d) => (d.kind === 'web' ? 1 - PHONE_WEIGHT : PHONE_WEIGHT));
          const geolocated = rng.chance(GEOLOCATED_SHARE);
          const threeDs = rng.chance(merchant.threeDsShare) ? rng.chance(0.98) : null;
          out.push(
            factory.create({
              eventTime,
              card,
              merchant,
              device,
              amountEur,
              threeDsAuthenticated: threeDs,
              lat: geolocated ? here.lat : null,
              lon: geolocated ? here.lon : null,
              ip: trip || rng.chance(OTHER_NETWORK_SHARE) ? residentialIp(rng, city.country) : device.ip,
              utcOffsetHours: city.utcOffsetHours,
            }),
          );
          continue;
        }
        const eventTime = utcOnDay(dayStart, drawTimeOfDay(rng, POS_HOURLY_WEIGHTS), city.utcOffsetHours);
        const local = merchants.byCity.get(city.name) ?? [];
        const merchant: Merchant =
          !trip && customer.preferredLocal.length > 0 && rng.chance(config.preferredMerchantShare)
            ? customer.preferredLocal[rng.weightedIndex(customer.preferredLocalWeights)]!
            : rng.weighted(local, (m) => m.category.merchantWeight);
        const terminal = rng.pick(merchant.terminals);
        const amountEur = Math.max(MIN_AMOUNT_EUR, customer.medianAmountEur * merchant.category.amountFactor * rng.lognormal(1, customer.amountSigma));
        out.push(factory.create({ eventTime, card, merchant, terminal, amountEur }));
      }
      if (trip) trip.daysLeft--;
    }
  }
  return out;
}
