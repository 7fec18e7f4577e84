/**
 * The checks ingress makes on a raw transaction beyond what Avro decoding already enforced
 * (field presence and types). Pure functions: they see values and return reason codes, and no
 * reason or message ever quotes a value, because the values include the PAN.
 *
 * Hand-written on purpose: Luhn is ten lines, and the currency list is spelled out below so that a
 * dependency update cannot silently change which transactions the loop accepts.
 */

export type IngressRejectReason =
  | 'INVALID_PAN_LENGTH'
  | 'INVALID_PAN_LUHN'
  | 'INVALID_CURRENCY'
  | 'INVALID_AMOUNT'
  | 'EVENT_TIME_OUT_OF_RANGE'
  | 'ACCOUNT_TOKEN_MISMATCH'
  /** The transaction id holds a card number (processors/panDetect.ts): it cannot travel, and a changed id could not be matched. */
  | 'TRANSACTION_ID_CONTAINS_PAN';

/** PANs are 12 to 19 digits (ISO/IEC 7812), digits only: the raw topic's contract says no separators. */
const PAN_PATTERN = /^[0-9]{12,19}$/;

export function panLengthValid(pan: string): boolean {
  return PAN_PATTERN.test(pan);
}

/** The ISO/IEC 7812 check digit: doubling every second digit from the right, the sum is a multiple of 10. */
export function luhnValid(digits: string): boolean {
  if (!/^[0-9]+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * ISO 4217 alphabetic codes a card can be authorised in: the current List One currencies, plus
 * codes in their transition period (ANG/XCG, SLL/SLE, ZWL/ZWG) so that a replay of older traffic
 * validates as it did. Left out on purpose: fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI,
 * UYW), precious metals (XAU, XAG, XPD, XPT), bond-market units (XBA-XBD), XDR, XSU, XUA, the
 * testing code XTS and XXX ("no currency"): none is a currency a cardholder pays in. Withdrawn
 * codes (HRK, VEF, MRO, STD, ...) are refused.
 */
export const ISO_4217_CURRENCIES: ReadonlySet<string> = new Set([
  'AED', 'AFN', 'ALL', 'AMD', 'ANG', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN',
  'BAM', 'BBD', 'BDT', 'BGN', 'BHD', 'BIF', 'BMD', 'BND', 'BOB', 'BRL',
  'BSD', 'BTN', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF', 'CHF', 'CLP', 'CNY',
  'COP', 'CRC', 'CUP', 'CVE', 'CZK', 'DJF', 'DKK', 'DOP', 'DZD', 'EGP',
  'ERN', 'ETB', 'EUR', 'FJD', 'FKP', 'GBP', 'GEL', 'GHS', 'GIP', 'GMD',
  'GNF', 'GTQ', 'GYD', 'HKD', 'HNL', 'HTG', 'HUF', 'IDR', 'ILS', 'INR',
  'IQD', 'IRR', 'ISK', 'JMD', 'JOD', 'JPY', 'KES', 'KGS', 'KHR', 'KMF',
  'KPW', 'KRW', 'KWD', 'KYD', 'KZT', 'LAK', 'LBP', 'LKR', 'LRD', 'LSL',
  'LYD', 'MAD', 'MDL', 'MGA', 'MKD', 'MMK', 'MNT', 'MOP', 'MRU', 'MUR',
  'MVR', 'MWK', 'MXN', 'MYR', 'MZN', 'NAD', 'NGN', 'NIO', 'NOK', 'NPR',
  'NZD', 'OMR', 'PAB', 'PEN', 'PGK', 'PHP', 'PKR', 'PLN', 'PYG', 'QAR',
  'RON', 'RSD', 'RUB', 'RWF', 'SAR', 'SBD', 'SCR', 'SDG', 'SEK', 'SGD',
  'SHP', 'SLE', 'SLL', 'SOS', 'SRD', 'SSP', 'STN', 'SVC', 'SYP', 'SZL',
  'THB', 'TJS', 'TMT', 'TND', 'TOP', 'TRY', 'TTD', 'TWD', 'TZS', 'UAH',
  'UGX', 'USD', 'UYU', 'UZS', 'VED', 'VES', 'VND', 'VUV', 'WST', 'XAF',
  'XCD', 'XCG', 'XOF', 'XPF', 'YER', 'ZAR', 'ZMW', 'ZWG', 'ZWL',
]);

/** Upper case only, as the schema documents: "eur" is a producer bug worth a dead letter, not a guess. */
export function currencyValid(code: string): boolean {
  return ISO_4217_CURRENCIES.has(code);
}

/** Minor units: a positive whole number (refunds and reversals are not authorisations). */
export function amountValid(amountMinor: number): boolean {
  return Number.isSafeInteger(amountMinor) && amountMinor > 0;
}

export interface EventTimeBounds {
  /** How far before the Kafka record's timestamp an event time may lie. */
  maxPastMs: number;
  /** How far after it (terminal clocks run fast). */
  maxFutureMs: number;
}

/**
 * Event time against the Kafka record timestamp, not the wall clock: a replay months later must
 * accept and reject exactly the same records. Both bounds are inclusive.
 */
export function eventTimeInRange(eventTime: number, recordTimestamp: number, bounds: EventTimeBounds): boolean {
  return eventTime >= recordTimestamp - bounds.maxPastMs && eventTime <= recordTimestamp + bounds.maxFutureMs;
}

export interface TransactionFacts {
  pan: string;
  currency: string;
  amountMinor: number;
  eventTime: number;
}

/**
 * Every reason the record fails, in a fixed order (the first is the dead letter's reason). Luhn is
 * only checked on a PAN of valid length: a check digit of a malformed number means nothing.
 */
export function validateTransaction(txn: TransactionFacts, recordTimestamp: number, bounds: EventTimeBounds): IngressRejectReason[] {
  const reasons: IngressRejectReason[] = [];
  if (!panLengthValid(txn.pan)) reasons.push('INVALID_PAN_LENGTH');
  else if (!luhnValid(txn.pan)) reasons.push('INVALID_PAN_LUHN');
  if (!currencyValid(txn.currency)) reasons.push('INVALID_CURRENCY');
  if (!amountValid(txn.amountMinor)) reasons.push('INVALID_AMOUNT');
  if (!eventTimeInRange(txn.eventTime, recordTimestamp, bounds)) reasons.push('EVENT_TIME_OUT_OF_RANGE');
  return reasons;
}
