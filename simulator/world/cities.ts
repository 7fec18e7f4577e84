/**
 * The places of the simulated world: real city centres (WGS84), their country, a fixed UTC offset
 * (standard time; daylight saving is ignored, which shifts local hours by at most one for part of
 * the year) and how many of the issuer's customers live there.
 *
 * The issuer is modelled as a European card issuer: most customers live in European cities, a few
 * abroad. Cities with a zero home weight exist only as merchant locations, travel destinations
 * and places fraud is cashed out from.
 */

export interface City {
  name: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  lat: number;
  lon: number;
  utcOffsetHours: number;
  /** Relative share of customers living here. */
  homeWeight: number;
}

export const CITIES: readonly City[] = [
  { name: 'London', country: 'GB', lat: 51.5074, lon: -0.1278, utcOffsetHours: 0, homeWeight: 9 },
  { name: 'Manchester', country: 'GB', lat: 53.4808, lon: -2.2426, utcOffsetHours: 0, homeWeight: 3 },
  { name: 'Dublin', country: 'IE', lat: 53.3498, lon: -6.2603, utcOffsetHours: 0, homeWeight: 2 },
  { name: 'Lisbon', country: 'PT', lat: 38.7223, lon: -9.1393, utcOffsetHours: 0, homeWeight: 2 },
  { name: 'Paris', country: 'FR', lat: 48.8566, lon: 2.3522, utcOffsetHours: 1, homeWeight: 8 },
  { name: 'Lyon', country: 'FR', lat: 45.764, lon: 4.8357, utcOffsetHours: 1, homeWeight: 2 },
  { name: 'Berlin', country: 'DE', lat: 52.52, lon: 13.405, utcOffsetHours: 1, homeWeight: 7 },
  { name: 'Munich', country: 'DE', lat: 48.1351, lon: 11.582, utcOffsetHours: 1, homeWeight: 4 },
  { name: 'Hamburg', country: 'DE', lat: 53.5511, lon: 9.9937, utcOffsetHours: 1, homeWeight: 3 },
  { name: 'Frankfurt', country: 'DE', lat: 50.1109, lon: 8.6821, utcOffsetHours: 1, homeWeight: 2 },
  { name: 'Madrid', country: 'ES', lat: 40.4168, lon: -3.7038, utcOffsetHours: 1, homeWeight: 5 },
  { name: 'Barcelona', country: 'ES', lat: 41.3874, lon: 2.1686, utcOffsetHours: 1, homeWeight: 4 },
  { name: 'Rome', country: 'IT', lat: 41.9028, lon: 12.4964, utcOffsetHours: 1, homeWeight: 4 },
  { name: 'Milan', country: 'IT', lat: 45.4642, lon: 9.19, utcOffsetHours: 1, homeWeight: 4 },
  { name: 'Amsterdam', country: 'NL', lat: 52.3676, lon: 4.9041, utcOffsetHours: 1, homeWeight: 4 },
  { name: 'Brussels', country: 'BE', lat: 50.8503, lon: 4.3517, utcOffsetHours: 1, homeWeight: 2 },
  { name: 'Vienna', country: 'AT', lat: 48.2082, lon: 16.3738, utcOffsetHours: 1, homeWeight: 2 },
  { name: 'Zurich', country: 'CH', lat: 47.3769, lon: 8.5417, utcOffsetHours: 1, homeWeight: 2 },
  { name: 'Stockholm', country: 'SE', lat: 59.3293, lon: 18.0686, utcOffsetHours: 1, homeWeight: 2 },
  { name: 'Copenhagen', country: 'DK', lat: 55.6761, lon: 12.5683, utcOffsetHours: 1, homeWeight: 2 },
  { name: 'Oslo', country: 'NO', lat: 59.9139, lon: 10.7522, utcOffsetHours: 1, homeWeight: 1 },
  { name: 'Warsaw', country: 'PL', lat: 52.2297, lon: 21.0122, utcOffsetHours: 1, homeWeight: 3 },
  { name: 'Prague', country: 'CZ', lat: 50.0755, lon: 14.4378, utcOffsetHours: 1, homeWeight: 2 },
  { name: 'Helsinki', country: 'FI', lat: 60.1699, lon: 24.9384, utcOffsetHours: 2, homeWeight: 1 },
  { name: 'Athens', country: 'GR', lat: 37.9838, lon: 23.7275, utcOffsetHours: 2, homeWeight: 2 },
  { name: 'Istanbul', country: 'TR', lat: 41.0082, lon: 28.9784, utcOffsetHours: 3, homeWeight: 0 },
  { name: 'New York', country: 'US', lat: 40.7128, lon: -74.006, utcOffsetHours: -5, homeWeight: 2 },
  { name: 'Miami', country: 'US', lat: 25.7617, lon: -80.1918, utcOffsetHours: -5, homeWeight: 0 },
  { name: 'Chicago', country: 'US', lat: 41.8781, lon: -87.6298, utcOffsetHours: -6, homeWeight: 0 },
  { name: 'Los Angeles', country: 'US', lat: 34.0522, lon: -118.2437, utcOffsetHours: -8, homeWeight: 0 },
  { name: 'Toronto', country: 'CA', lat: 43.6532, lon: -79.3832, utcOffsetHours: -5, homeWeight: 1 },
  { name: 'Mexico City', country: 'MX', lat: 19.4326, lon: -99.1332, utcOffsetHours: -6, homeWeight: 0 },
  { name: 'Sao Paulo', country: 'BR', lat: -23.5505, lon: -46.6333, utcOffsetHours: -3, homeWeight: 0 },
  { name: 'Dubai', country: 'AE', lat: 25.2048, lon: 55.2708, utcOffsetHours: 4, homeWeight: 0 },
  { name: 'Johannesburg', country: 'ZA', lat: -26.2041, lon: 28.0473, utcOffsetHours: 2, homeWeight: 0 },
  { name: 'Mumbai', country: 'IN', lat: 19.076, lon: 72.8777, utcOffsetHours: 5.5, homeWeight: 0 },
  { name: 'Singapore', country: 'SG', lat: 1.3521, lon: 103.8198, utcOffsetHours: 8, homeWeight: 0 },
  { name: 'Tokyo', country: 'JP', lat: 35.6762, lon: 139.6503, utcOffsetHours: 9, homeWeight: 0 },
  { name: 'Sydney', country: 'AU', lat: -33.8688, lon: 151.2093, utcOffsetHours: 10, homeWeight: 0 },
];

export interface Currency {
  code: string;
  /** ISO 4217 minor-unit exponent: amountMinor = amount × 10^exponent. */
  exponent: number;
  /** Units of this currency per euro: a fixed rate, used only to express amounts drawn in euros. */
  perEur: number;
}

const CURRENCIES: Readonly<Record<string, Currency>> = {
  EUR: { code: 'EUR', exponent: 2, perEur: 1 },
  GBP: { code: 'GBP', exponent: 2, perEur: 0.85 },
  USD: { code: 'USD', exponent: 2, perEur: 1.08 },
  CHF: { code: 'CHF', exponent: 2, perEur: 0.95 },
  SEK: { code: 'SEK', exponent: 2, perEur: 11.3 },
  DKK: { code: 'DKK', exponent: 2, perEur: 7.46 },
  NOK: { code: 'NOK', exponent: 2, perEur: 11.6 },
  PLN: { code: 'PLN', exponent: 2, perEur: 4.3 },
  CZK: { code: 'CZK', exponent: 2, perEur: 25.2 },
  TRY: { code: 'TRY', exponent: 2, perEur: 35 },
  CAD: { code: 'CAD', exponent: 2, perEur: 1.47 },
  MXN: { code: 'MXN', exponent: 2, perEur: 19.5 },
  BRL: { code: 'BRL', exponent: 2, perEur: 5.9 },
  AED: { code: 'AED', exponent: 2, perEur: 3.97 },
  ZAR: { code: 'ZAR', exponent: 2, perEur: 19.8 },
  INR: { code: 'INR', exponent: 2, perEur: 90 },
  SGD: { code: 'SGD', exponent: 2, perEur: 1.45 },
  JPY: { code: 'JPY', exponent: 0, perEur: 162 },
  AUD: { code: 'AUD', exponent: 2, perEur: 1.63 },
};

const CURRENCY_OF_COUNTRY: Readonly<Record<string, string>> = {
  GB: 'GBP', IE: 'EUR', PT: 'EUR', FR: 'EUR', DE: 'EUR', ES: 'EUR', IT: 'EUR', NL: 'EUR', BE: 'EUR',
  AT: 'EUR', CH: 'CHF', SE: 'SEK', DK: 'DKK', NO: 'NOK', PL: 'PLN', CZ: 'CZK', FI: 'EUR', GR: 'EUR',
  TR: 'TRY', US: 'USD', CA: 'CAD', MX: 'MXN', BR: 'BRL', AE: 'AED', ZA: 'ZAR', IN: 'INR', SG: 'SGD',
  JP: 'JPY', AU: 'AUD',
};

export function currencyOfCountry(country: string): Currency {
  const code = CURRENCY_OF_COUNTRY[country];
  const currency = code === undefined ? undefined : CURRENCIES[code];
  if (currency === undefined) throw new Error(`no currency for country ${country}`);
  return currency;
}

/** An amount in euros expressed in minor units of `currency`, at least one minor unit. */
export function minorUnits(amountEur: number, currency: Currency): number {
  return Math.max(1, Math.round(amountEur * currency.perEur * 10 ** currency.exponent));
}

/** The inverse of minorUnits, for summaries that add amounts across currencies. */
export function eurOf(amountMinor: number, currency: Currency): number {
  return amountMinor / 10 ** currency.exponent / currency.perEur;
}

export function currencyByCode(code: string): Currency {
  const currency = CURRENCIES[code];
  if (currency === undefined) throw new Error(`unknown simulator currency ${code}`);
  return currency;
}
