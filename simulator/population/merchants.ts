/**
 * Merchants and their terminals. Physical merchants sit in a city (location jittered around the
 * centre) and accept cards on 1-6 terminals; online merchants have no location, a country of
 * acquisition and a share of payments they put through 3-D Secure (high in Europe, where PSD2
 * strong customer authentication applies, lower elsewhere).
 */
import type { PopulationConfig } from '../config.js';
import type { Merchant, Terminal } from '../model.js';
import type { Random } from '../random.js';
import { CITIES, type City, currencyOfCountry } from '../world/cities.js';
import { MERCHANT_CATEGORIES, type MerchantCategory } from '../world/merchantCategories.js';

export interface MerchantDirectory {
  physical: readonly Merchant[];
  online: readonly Merchant[];
  /** Physical merchants by city name. */
  byCity: ReadonlyMap<string, readonly Merchant[]>;
  terminals: readonly Terminal[];
}

/** Categories every city has, so travellers and cash-out gangs find them everywhere. */
const EVERY_CITY_HAS: readonly string[] = ['5411', '5812', '6011', '5732', '5944', '5311'];

const ONLINE_COUNTRIES: readonly { country: string; weight: number }[] = [
  { country: 'US', weight: 4 },
  { country: 'GB', weight: 3 },
  { country: 'IE', weight: 2 },
  { country: 'NL', weight: 2 },
  { country: 'DE', weight: 2 },
  { country: 'FR', weight: 1 },
  { country: 'SG', weight: 0.5 },
];
const EUROPEAN = new Set(['GB', 'IE', 'NL', 'DE', 'FR']);
/** Degrees of jitter (about 4 km) around a city centre. */
const LOCATION_JITTER_DEG = 0.04;

export function roundCoordinate(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}

export function jitteredLocation(rng: Random, city: City, jitterDeg = LOCATION_JITTER_DEG): { lat: number; lon: number } {
  const lat = city.lat + rng.normal() * jitterDeg;
  const lon = city.lon + (rng.normal() * jitterDeg) / Math.cos((city.lat * Math.PI) / 180);
  return { lat: roundCoordinate(lat), lon: roundCoordinate(lon) };
}

const pad = (n: number, width = 6): string => String(n).padStart(width, '0');

export function buildMerchants(rng: Random, customers: number, config: PopulationConfig): MerchantDirectory {
  const physicalCategories = MERCHANT_CATEGORIES.filter((c) => c.kind === 'physical');
  const onlineCategories = MERCHANT_CATEGORIES.filter((c) => c.kind === 'online');
  const physical: Merchant[] = [];
  const online: Merchant[] = [];
  const terminals: Terminal[] = [];
  const byCity = new Map<string, Merchant[]>();
  const stemCounts = new Map<string, number>();

  const add = (category: MerchantCategory, city: City | null, country: string): Merchant => {
    const stemKey = `${city?.name ?? '(online)'}|${category.nameStem}`;
    const n = (stemCounts.get(stemKey) ?? 0) + 1;
    stemCounts.set(stemKey, n);
    const location = city ? jitteredLocation(rng, city) : null;
    const merchant: Merchant = {
      merchantId: `MER-${pad(physical.length + online.length + 1)}`,
      name: city ? `${category.nameStem} ${city.name} ${n}` : `${category.nameStem} ${n}`,
      category,
      city,
      lat: location?.lat ?? null,
      lon: location?.lon ?? null,
      country,
      currency: currencyOfCountry(country),
      terminals: [],
      threeDsShare: city ? 0 : EUROPEAN.has(country) ? 0.8 : 0.3,
    };
    if (city) {
      const count = category.mcc === '6011' ? 1 : 1 + Math.min(5, rng.poisson(0.8));
      for (let i = 0; i < count; i++) {
        const terminal: Terminal = { terminalId: `TRM-${pad(terminals.length + 1)}`, merchant };
        merchant.terminals.push(terminal);
        terminals.push(terminal);
      }
      physical.push(merchant);
      const list = byCity.get(city.name) ?? [];
      list.push(merchant);
      byCity.set(city.name, list);
    } else {
      online.push(merchant);
    }
    return merchant;
  };

  // Every city gets merchants, weighted towards where customers live (+0.5 so that cities nobody
  // lives in still have shops for travellers and fraudsters).
  const totalPhysical = Math.max(CITIES.length * EVERY_CITY_HAS.length, Math.round(customers * config.physicalMerchantsPerCustomer));
  const cityWeightSum = CITIES.reduce((s, c) => s + c.homeWeight + 0.5, 0);
  for (const city of CITIES) {
    for (const mcc of EVERY_CITY_HAS) add(physicalCategories.find((c) => c.mcc === mcc)!, city, city.country);
    const extra = Math.round((totalPhysical * (city.homeWeight + 0.5)) / cityWeightSum) - EVERY_CITY_HAS.length;
    for (let i = 0; i < extra; i++) add(rng.weighted(physicalCategories, (c) => c.merchantWeight), city, city.country);
  }

  const totalOnline = Math.max(onlineCategories.length * 2, Math.round(customers * config.onlineMerchantsPerCustomer));
  const onlineCountry = (): string => rng.weighted(ONLINE_COUNTRIES, (c) => c.weight).country;
  for (const category of onlineCategories) add(category, null, onlineCountry());
  for (let i = onlineCategories.length; i < totalOnline; i++) {
    add(rng.weighted(onlineCategories, (c) => c.merchantWeight), null, onlineCountry());
  }
  return { physical, online, byCity, terminals };
}
