/**
 * Card numbers for simulated cards: 16 digits, a BIN from the ranges payment processors publish
 * for testing, and a correct Luhn check digit, so ingress validation accepts them and no generated
 * number is a real customer's card.
 */
import type { Random } from './random.js';

export type CardScheme = 'VISA' | 'MASTERCARD';

/** Published test BINs (Visa 4111 11 / 4242 42 / 4012 88, Mastercard 5555 55 / 5105 10 / 2223 00). */
export const TEST_BINS: readonly { bin: string; scheme: CardScheme }[] = [
  { bin: '411111', scheme: 'VISA' },
  { bin: '424242', scheme: 'VISA' },
  { bin: '401288', scheme: 'VISA' },
  { bin: '555555', scheme: 'MASTERCARD' },
  { bin: '510510', scheme: 'MASTERCARD' },
  { bin: '222300', scheme: 'MASTERCARD' },
];

const PAN_LENGTH = 16;

/** The digit that makes `partial + digit` pass Luhn (ISO/IEC 7812-1 annex B). */
export function luhnCheckDigit(partial: string): number {
  let sum = 0;
  // The check digit will sit at the right, so the rightmost digit of `partial` is doubled.
  let double = true;
  for (let i = partial.length - 1; i >= 0; i--) {
    let d = partial.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return (10 - (sum % 10)) % 10;
}

export function schemeOf(pan: string): CardScheme {
  return pan.startsWith('4') ? 'VISA' : 'MASTERCARD';
}

/**
 * Issues PANs that are unique within one run: the account-number digits are drawn at random and
 * redrawn on the (rare) collision, so the numbers look like real issuance, not a counter.
 */
export class PanIssuer {
  private readonly issued = new Set<string>();

  constructor(private readonly rng: Random) {}

  issue(): string {
    const { bin } = this.rng.pick(TEST_BINS);
    for (;;) {
      let body = bin;
      while (body.length < PAN_LENGTH - 1) body += String(this.rng.int(0, 9));
      const pan = body + String(luhnCheckDigit(body));
      if (!this.issued.has(pan)) {
        this.issued.add(pan);
        return pan;
      }
    }
  }
}
