/**
 * Turns "who paid whom, when, how much (in euros), how" into a SimTransaction, for legit spending
 * and every fraud pattern alike, so that amounts, channels and card-present flags follow one set
 * of rules: the amount is charged in the merchant's currency, ATM withdrawals come in round
 * notes, and the creation order breaks ties between equal event times.
 */
import type { Channel } from '../schemas/types.js';
import type { Card, Device, FraudMark, Merchant, Session, SimTransaction, Terminal } from './model.js';
import { localHourOf } from './time.js';
import { minorUnits } from './world/cities.js';

export interface TransactionParts {
  eventTime: number;
  card: Card;
  merchant: Merchant;
  terminal?: Terminal | null;
  device?: Device | null;
  /** Defaults from the merchant: POS (ATM for 6011) when physical, ECOM when online. */
  channel?: Channel;
  amountEur: number;
  threeDsAuthenticated?: boolean | null;
  lat?: number | null;
  lon?: number | null;
  ip?: string | null;
  fraud?: FraudMark | null;
  session?: Session | null;
  /** UTC offset of where the payer is, for the local hour; defaults to the merchant's city or the payer's home. */
  utcOffsetHours?: number;
}

export const ATM_MCC = '6011';

/**
 * Cash comes in notes: ten units of the currency's order of magnitude against the euro (10 EUR,
 * 10 GBP, 100 SEK, 1 000 JPY), never less than 10 units.
 */
function atmAmountMinor(amountEur: number, merchant: Merchant): number {
  const { perEur, exponent } = merchant.currency;
  const note = 10 * 10 ** Math.max(0, Math.floor(Math.log10(perEur)));
  const units = Math.max(2, Math.round((amountEur * perEur) / note)) * note;
  return Math.round(units * 10 ** exponent);
}

export class TransactionFactory {
  private seq = 0;

  create(parts: TransactionParts): SimTransaction {
    const { merchant } = parts;
    const physical = merchant.city !== null;
    const channel: Channel = parts.channel ?? (physical ? (merchant.category.mcc === ATM_MCC ? 'ATM' : 'POS') : 'ECOM');
    const amountMinor = channel === 'ATM' ? atmAmountMinor(parts.amountEur, merchant) : minorUnits(parts.amountEur, merchant.currency);
    const offset = parts.utcOffsetHours ?? merchant.city?.utcOffsetHours ?? parts.card.account.homeCity.utcOffsetHours;
    return {
      seq: this.seq++,
      eventTime: parts.eventTime,
      card: parts.card,
      merchant,
      terminal: parts.terminal ?? (physical ? (merchant.terminals[0] ?? null) : null),
      device: parts.device ?? null,
      channel,
      amountEur: parts.amountEur,
      amountMinor,
      currency: merchant.currency.code,
      threeDsAuthenticated: parts.threeDsAuthenticated ?? null,
      lat: parts.lat ?? (physical ? merchant.lat : null),
      lon: parts.lon ?? (physical ? merchant.lon : null),
      ip: parts.ip ?? null,
      fraud: parts.fraud ?? null,
      session: parts.session ?? null,
      harvestedBy: null,
      localHour: localHourOf(parts.eventTime, offset),
      transactionId: '',
    };
  }
}
