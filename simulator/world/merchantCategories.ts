/**
 * Merchant category codes (ISO 18245) the simulated merchants are drawn from, with how common
 * each is among merchants and how large a typical ticket is relative to a customer's usual amount.
 *
 * `highRisk` follows the card schemes' high-brand-risk list (gambling, money transfer,
 * quasi-cash/crypto, direct marketing): real issuers see more fraud there, and so does the
 * simulator, since several fraud patterns prefer these merchants.
 */

export interface MerchantCategory {
  mcc: string;
  description: string;
  /** Word used in generated merchant names. */
  nameStem: string;
  /** Physical (terminals in a city) or online (no location). */
  kind: 'physical' | 'online';
  /** Relative number of merchants of this category. */
  merchantWeight: number;
  /** Typical ticket relative to the customer's median amount. */
  amountFactor: number;
  highRisk: boolean;
}

export const MERCHANT_CATEGORIES: readonly MerchantCategory[] = [
  // Physical, everyday.
  { mcc: '5411', description: 'Grocery stores, supermarkets', nameStem: 'Market', kind: 'physical', merchantWeight: 14, amountFactor: 1.3, highRisk: false },
  { mcc: '5812', description: 'Restaurants', nameStem: 'Bistro', kind: 'physical', merchantWeight: 12, amountFactor: 1.4, highRisk: false },
  { mcc: '5814', description: 'Fast food', nameStem: 'Snacks', kind: 'physical', merchantWeight: 9, amountFactor: 0.4, highRisk: false },
  { mcc: '5541', description: 'Service stations', nameStem: 'Fuel', kind: 'physical', merchantWeight: 5, amountFactor: 2.0, highRisk: false },
  { mcc: '5912', description: 'Drug stores, pharmacies', nameStem: 'Pharmacy', kind: 'physical', merchantWeight: 4, amountFactor: 0.8, highRisk: false },
  { mcc: '5311', description: 'Department stores', nameStem: 'Stores', kind: 'physical', merchantWeight: 3, amountFactor: 2.2, highRisk: false },
  { mcc: '5651', description: 'Family clothing stores', nameStem: 'Fashion', kind: 'physical', merchantWeight: 4, amountFactor: 2.5, highRisk: false },
  { mcc: '5732', description: 'Electronics stores', nameStem: 'Electronics', kind: 'physical', merchantWeight: 2, amountFactor: 5.0, highRisk: false },
  { mcc: '5944', description: 'Jewelry and watch stores', nameStem: 'Jewellers', kind: 'physical', merchantWeight: 1, amountFactor: 8.0, highRisk: false },
  { mcc: '5999', description: 'Miscellaneous retail', nameStem: 'Shop', kind: 'physical', merchantWeight: 5, amountFactor: 1.0, highRisk: false },
  { mcc: '5942', description: 'Book stores', nameStem: 'Books', kind: 'physical', merchantWeight: 2, amountFactor: 0.9, highRisk: false },
  { mcc: '4111', description: 'Local commuter transport', nameStem: 'Transit', kind: 'physical', merchantWeight: 2, amountFactor: 0.15, highRisk: false },
  { mcc: '4121', description: 'Taxis and limousines', nameStem: 'Taxi', kind: 'physical', merchantWeight: 2, amountFactor: 0.9, highRisk: false },
  { mcc: '7011', description: 'Hotels and lodging', nameStem: 'Hotel', kind: 'physical', merchantWeight: 2, amountFactor: 6.0, highRisk: false },
  { mcc: '7832', description: 'Cinemas', nameStem: 'Cinema', kind: 'physical', merchantWeight: 1, amountFactor: 0.7, highRisk: false },
  { mcc: '6011', description: 'ATM cash disbursements', nameStem: 'ATM', kind: 'physical', merchantWeight: 3, amountFactor: 3.0, highRisk: false },
  // Online.
  { mcc: '5311', description: 'Online marketplace', nameStem: 'Marketplace', kind: 'online', merchantWeight: 4, amountFactor: 1.8, highRisk: false },
  { mcc: '5732', description: 'Online electronics', nameStem: 'Tech Online', kind: 'online', merchantWeight: 2, amountFactor: 4.0, highRisk: false },
  { mcc: '5815', description: 'Digital media (books, music, film)', nameStem: 'Media', kind: 'online', merchantWeight: 3, amountFactor: 0.4, highRisk: false },
  { mcc: '5816', description: 'Digital games', nameStem: 'Games', kind: 'online', merchantWeight: 2, amountFactor: 0.6, highRisk: false },
  { mcc: '4899', description: 'Streaming and cable subscriptions', nameStem: 'Stream', kind: 'online', merchantWeight: 2, amountFactor: 0.5, highRisk: false },
  { mcc: '4511', description: 'Airlines', nameStem: 'Air', kind: 'online', merchantWeight: 1, amountFactor: 9.0, highRisk: false },
  { mcc: '4722', description: 'Travel agencies', nameStem: 'Travel', kind: 'online', merchantWeight: 1, amountFactor: 7.0, highRisk: false },
  { mcc: '5651', description: 'Online fashion', nameStem: 'Wear', kind: 'online', merchantWeight: 3, amountFactor: 2.0, highRisk: false },
  { mcc: '5947', description: 'Gift cards and novelties', nameStem: 'Gifts', kind: 'online', merchantWeight: 1, amountFactor: 1.5, highRisk: false },
  { mcc: '8398', description: 'Charitable organisations', nameStem: 'Charity', kind: 'online', merchantWeight: 1, amountFactor: 0.8, highRisk: false },
  { mcc: '7995', description: 'Betting and gambling', nameStem: 'Bet', kind: 'online', merchantWeight: 1, amountFactor: 1.5, highRisk: true },
  { mcc: '4829', description: 'Money transfer', nameStem: 'Transfer', kind: 'online', merchantWeight: 1, amountFactor: 3.0, highRisk: true },
  { mcc: '6051', description: 'Quasi-cash, crypto exchanges', nameStem: 'Crypto', kind: 'online', merchantWeight: 1, amountFactor: 3.0, highRisk: true },
  { mcc: '5967', description: 'Direct marketing, inbound telemarketing', nameStem: 'Direct', kind: 'online', merchantWeight: 1, amountFactor: 1.2, highRisk: true },
];
