/**
 * Simulated card numbers: the Luhn check digit against published test PANs, and issuance that is
 * unique, 16 digits, on test BINs, and accepted by ingress validation's own Luhn check.
 */
import { describe, expect, it } from 'vitest';
import { luhnValid } from '../../../processors/validation.js';
import { PanIssuer, TEST_BINS, luhnCheckDigit, schemeOf } from '../../../simulator/pan.js';
import { Random } from '../../../simulator/random.js';

describe('luhnCheckDigit', () => {
  it.each([
    // Published processor test cards: the last digit is the check digit.
    ['4111111111111111'],
    ['4242424242424242'],
    ['4012888888881881'],
    ['5555555555554444'],
    ['5105105105105100'],
    ['2223003122003222'],
  ])('completes %s', (pan) => {
    expect(luhnCheckDigit(pan.slice(0, -1))).toBe(Number(pan.slice(-1)));
  });

  it('is the digit that makes a number valid, worked out by hand', () => {
    // 7992739871: doubling every second digit from the right gives 7 18→9 9 4 7 6 9 16→7 7 2,
    // sum 67, so the check digit is 3 (the textbook example).
    expect(luhnCheckDigit('7992739871')).toBe(3);
  });
});

describe('PanIssuer', () => {
  it('issues unique 16-digit PANs on test BINs that pass Luhn', () => {
    const issuer = new PanIssuer(new Random(11));
    const pans = Array.from({ length: 20_000 }, () => issuer.issue());
    expect(new Set(pans).size).toBe(pans.length);
    const bins = new Set(TEST_BINS.map((b) => b.bin));
    for (const pan of pans) {
      expect(pan).toMatch(/^[0-9]{16}$/);
      expect(bins.has(pan.slice(0, 6))).toBe(true);
      expect(luhnValid(pan)).toBe(true);
    }
    expect(schemeOf('4111111111111111')).toBe('VISA');
    expect(schemeOf('2223003122003222')).toBe('MASTERCARD');
  });
});
