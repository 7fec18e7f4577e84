/**
 * Synthetic IPv4 addresses. Each country gets one first octet (a fixed function of its code), so
 * addresses from one country share a /8 and an IP-country feature would be learnable, but they do
 * not match any real geolocation database and must not be read as real addresses. Fraudsters
 * connect through a handful of "hosting" /8s that no residential customer uses.
 */
import type { Random } from '../random.js';

/** First octets reserved for residential and mobile customers' countries (avoids 0, 10, 127, 169, 172, 192, 224+). */
const RESIDENTIAL_OCTETS: readonly number[] = [
  2, 5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 109, 151, 176, 178, 188, 212, 213,
  217, 24, 50, 70, 73, 98, 99,
];

/** First octets of the synthetic hosting/proxy ranges fraudsters use. */
const HOSTING_OCTETS: readonly number[] = [45, 104, 139, 149, 185];

function countryOctet(country: string): number {
  let h = 0;
  for (let i = 0; i < country.length; i++) h = (h * 31 + country.charCodeAt(i)) >>> 0;
  return RESIDENTIAL_OCTETS[h % RESIDENTIAL_OCTETS.length]!;
}

function rest(rng: Random): string {
  return `${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

export function residentialIp(rng: Random, country: string): string {
  return `${countryOctet(country)}.${rest(rng)}`;
}

export function hostingIp(rng: Random): string {
  return `${rng.pick(HOSTING_OCTETS)}.${rest(rng)}`;
}
