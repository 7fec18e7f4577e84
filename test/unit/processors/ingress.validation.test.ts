/**
 * The pure checks behind ingress: Luhn, PAN length, ISO 4217, amount, event-time bounds.
 */
import { describe, expect, it } from 'vitest';
import {
  ISO_4217_CURRENCIES,
  amountValid,
  currencyValid,
  eventTimeInRange,
  luhnValid,
  panLengthValid,
  validateTransaction,
} from '../../../processors/validation.js';

describe('ingress validation', () => {
  it('checks Luhn on known card numbers', () => {
    // Network test numbers (valid) and the same numbers with the last digit off by one.
    for (const pan of ['4111111111111111', '5105105105105100', '378282246310005', '6011111111111117', '4012888888881881']) {
      expect(luhnValid(pan), pan).toBe(true);
      const broken = pan.slice(0, -1) + String((Number(pan.at(-1)) + 1) % 10);
      expect(luhnValid(broken), broken).toBe(false);
    }
    // 7992739871 + check digit 3 is the textbook example: the doubled digits sum to 67, 67 + 3 = 70.
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('4111-1111')).toBe(false);
  });

  it('accepts 12 to 19 digits and nothing else as a PAN', () => {
    expect(panLengthValid('1'.repeat(11))).toBe(false);
    expect(panLengthValid('1'.repeat(12))).toBe(true);
    expect(panLengthValid('1'.repeat(19))).toBe(true);
    expect(panLengthValid('1'.repeat(20))).toBe(false);
    expect(panLengthValid('4111 1111 1111 1111')).toBe(false);
    expect(panLengthValid('411111111111111a')).toBe(false);
  });

  it('knows the ISO 4217 currencies a card is paid in, upper case only', () => {
    for (const c of ['EUR', 'USD', 'JPY', 'CHF', 'GBP', 'XOF', 'KWD', 'VES', 'ZWG']) expect(currencyValid(c), c).toBe(true);
    // Metals, test and fund codes, withdrawn codes, wrong case, nonsense.
    for (const c of ['XAU', 'XTS', 'XXX', 'XDR', 'CHE', 'USN', 'HRK', 'VEF', 'eur', 'EU', 'EURO', '']) expect(currencyValid(c), c).toBe(false);
    expect(ISO_4217_CURRENCIES.size).toBeGreaterThan(150);
    for (const c of ISO_4217_CURRENCIES) expect(c).toMatch(/^[A-Z]{3}$/);
  });

  it('wants a positive whole amount in minor units', () => {
    expect(amountValid(1)).toBe(true);
    expect(amountValid(0)).toBe(false);
    expect(amountValid(-500)).toBe(false);
    expect(amountValid(12.5)).toBe(false);
    expect(amountValid(Number.MAX_SAFE_INTEGER + 1)).toBe(false);
  });

  it('bounds event time around the record timestamp, inclusively', () => {
    const bounds = { maxPastMs: 1_000, maxFutureMs: 100 };
    expect(eventTimeInRange(9_000, 10_000, bounds)).toBe(true);
    expect(eventTimeInRange(8_999, 10_000, bounds)).toBe(false);
    expect(eventTimeInRange(10_100, 10_000, bounds)).toBe(true);
    expect(eventTimeInRange(10_101, 10_000, bounds)).toBe(false);
  });

  it('reports every failure in a fixed order, Luhn only for a PAN of valid length', () => {
    const bounds = { maxPastMs: 1_000, maxFutureMs: 100 };
    const ok = { pan: '4111111111111111', currency: 'EUR', amountMinor: 100, eventTime: 10_000 };
    expect(validateTransaction(ok, 10_000, bounds)).toEqual([]);
    expect(validateTransaction({ ...ok, pan: '4111111111111112', currency: 'XXX' }, 10_000, bounds)).toEqual(['INVALID_PAN_LUHN', 'INVALID_CURRENCY']);
    expect(validateTransaction({ pan: '41111', currency: 'eur', amountMinor: 0, eventTime: 0 }, 10_000, bounds)).toEqual([
      'INVALID_PAN_LENGTH',
      'INVALID_CURRENCY',
      'INVALID_AMOUNT',
      'EVENT_TIME_OUT_OF_RANGE',
    ]);
  });
});
