/**
 * Each fraud pattern leaves the signature docs/simulator.md describes, seen only through the
 * records the loop reads (plus the truth to know which incident a transaction belongs to).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { haversineKm } from '../../../processors/geo.js';
import { accountTokenOf } from '../../../processors/tokenizer.js';
import type { DeviceSignal, Transaction } from '../../../schemas/types.js';
import { simulate, type SimulationResult } from '../../../simulator/simulate.js';
import { currencyByCode, eurOf } from '../../../simulator/world/cities.js';

const KEY = Buffer.alloc(32, 0x44);
const keyFor = (id: string): string => accountTokenOf(KEY, id);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let run: SimulationResult;
/** Fraud transactions by incident, in event-time order. */
let incidents: Map<string, Transaction[]>;
let signalsByDevice: Map<string, DeviceSignal[]>;

const eur = (t: Transaction): number => eurOf(t.amountMinor, currencyByCode(t.currency));
const ofPattern = (pattern: string): Transaction[][] => [...incidents].filter(([id]) => id.startsWith(pattern)).map(([, txns]) => txns);

beforeAll(() => {
  run = simulate({ seed: 4, customers: 1000, days: 30, fraudScale: 5 }, { keyFor });
  incidents = new Map();
  run.records.transactions.forEach((r, i) => {
    const truth = run.truth[i]!;
    if (!truth.incidentId) return;
    const list = incidents.get(truth.incidentId) ?? [];
    list.push(r.value);
    incidents.set(truth.incidentId, list);
  });
  signalsByDevice = new Map();
  for (const { value } of run.records.deviceSignals) {
    const list = signalsByDevice.get(value.deviceId) ?? [];
    list.push(value);
    signalsByDevice.set(value.deviceId, list);
  }
});

describe('fraud pattern signatures', () => {
  it('card testing: a burst of 3+ tiny card-not-present amounts within minutes, then at most one large one', () => {
    const all = ofPattern('card_testing');
    expect(all.length).toBeGreaterThan(10);
    for (const txns of all) {
      const probes = txns.filter((t) => eur(t) <= 3.01);
      const large = txns.filter((t) => eur(t) > 3.01);
      if (probes.length === 0) continue; // cut by the end of the period
      expect(probes.length).toBeGreaterThanOrEqual(Math.min(3, txns.length));
      // At most 7 gaps of at most 40 s each.
      expect(probes.at(-1)!.eventTime - probes[0]!.eventTime).toBeLessThanOrEqual(7 * 40_000);
      expect(large.length).toBeLessThanOrEqual(1);
      for (const t of large) {
        expect(t.eventTime - probes.at(-1)!.eventTime).toBeGreaterThanOrEqual(10 * MINUTE);
        expect(t.eventTime - probes.at(-1)!.eventTime).toBeLessThanOrEqual(120 * MINUTE);
      }
      for (const t of txns) {
        expect(t.channel).toBe('ECOM');
        expect(new Set(txns.map((x) => x.pan)).size).toBe(1);
      }
      // The probing device is a fresh guest session: no account logged in.
      const first = signalsByDevice.get(probes[0]!.deviceId!)!.filter((s) => s.eventTime <= probes[0]!.eventTime).at(-1)!;
      expect(first.accountToken).toBeNull();
    }
  });

  it('stolen credentials: many online merchants within hours, one card, a device the account never used', () => {
    const all = ofPattern('stolen_credentials');
    expect(all.length).toBeGreaterThan(10);
    let distinctShare = 0;
    for (const txns of all) {
      expect(txns.at(-1)!.eventTime - txns[0]!.eventTime).toBeLessThanOrEqual(4 * HOUR);
      expect(txns.every((t) => t.channel === 'ECOM' && t.deviceId === txns[0]!.deviceId)).toBe(true);
      expect(new Set(txns.map((t) => t.pan)).size).toBe(1);
      distinctShare += new Set(txns.map((t) => t.merchantId)).size / txns.length;
      const owner = keyFor(txns[0]!.accountId);
      const signals = signalsByDevice.get(txns[0]!.deviceId!)!;
      expect(signals.every((s) => s.accountToken !== owner)).toBe(true);
    }
    expect(distinctShare / all.length).toBeGreaterThan(0.8);
  });

  it('account takeover: a login as the victim from a new device minutes before high online amounts', () => {
    const all = ofPattern('account_takeover');
    expect(all.length).toBeGreaterThan(10);
    const amounts: number[] = [];
    for (const txns of all) {
      const first = txns[0]!;
      const login = signalsByDevice.get(first.deviceId!)!.filter((s) => s.eventTime <= first.eventTime).at(-1)!;
      expect(login.accountToken).toBe(keyFor(first.accountId));
      expect(first.eventTime - login.eventTime).toBeGreaterThanOrEqual(2 * MINUTE);
      expect(first.eventTime - login.eventTime).toBeLessThanOrEqual(30 * MINUTE);
      // New to the victim: the device never had a session on this account before the takeover
      // (it may have had others: farm devices move from victim to victim).
      expect(signalsByDevice.get(first.deviceId!)!.some((s) => s.accountToken === login.accountToken && s.eventTime < login.eventTime)).toBe(false);
      for (const t of txns) amounts.push(eur(t));
    }
    amounts.sort((a, b) => a - b);
    // Lognormal with median 700 EUR.
    expect(amounts[Math.floor(amounts.length / 2)]!).toBeGreaterThan(450);
  });

  it('account takeover: located far from where the victim usually pays in person', () => {
    let checked = 0;
    for (const txns of ofPattern('account_takeover')) {
      const located = txns.filter((t) => t.lat !== null && t.lon !== null);
      if (located.length === 0) continue;
      const accountId = txns[0]!.accountId;
      // The victim's usual place: the most frequent card-present city (merchant name ends "<city> <n>").
      const cities = new Map<string, { n: number; lat: number; lon: number }>();
      for (const r of run.records.transactions) {
        const v = r.value;
        if (v.accountId !== accountId || !v.cardPresent || v.lat === null || v.lon === null) continue;
        const city = v.merchantName!.replace(/^\S+\s+|\s+\d+$/g, '');
        const c = cities.get(city) ?? { n: 0, lat: v.lat, lon: v.lon };
        c.n++;
        cities.set(city, c);
      }
      const home = [...cities.values()].sort((a, b) => b.n - a.n)[0];
      if (!home) continue;
      for (const t of located) expect(haversineKm(home, { lat: t.lat!, lon: t.lon! })).toBeGreaterThan(1300);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('compromised terminal: every defrauded card was read at the same terminal shortly before, and is cashed out card-present elsewhere', () => {
    const all = [...incidents].filter(([id]) => id.startsWith('compromised_terminal'));
    expect(all.length).toBeGreaterThan(0);
    for (const [id, fraudTxns] of all) {
      const harvested = run.records.transactions.filter((_, i) => run.truth[i]!.harvestedBy === id).map((r) => r.value);
      const terminals = new Set(harvested.map((t) => t.terminalId));
      expect(terminals.size).toBe(1);
      const skimmed = harvested[0]!;
      for (const t of fraudTxns) {
        const read = harvested.filter((h) => h.pan === t.pan);
        expect(read.length).toBeGreaterThan(0);
        expect(read[0]!.eventTime).toBeLessThan(t.eventTime);
        expect(t.cardPresent).toBe(true);
        expect(t.terminalId).not.toBe(skimmed.terminalId);
        expect(haversineKm({ lat: skimmed.lat!, lon: skimmed.lon! }, { lat: t.lat!, lon: t.lon! })).toBeGreaterThan(50);
      }
    }
  });

  it('fraud rings reuse devices across victims, and reported devices end up blocked', () => {
    const victimsByDevice = new Map<string, Set<string>>();
    for (const txns of incidents.values()) {
      for (const t of txns) {
        if (t.deviceId === null) continue;
        const set = victimsByDevice.get(t.deviceId) ?? new Set();
        set.add(t.accountId);
        victimsByDevice.set(t.deviceId, set);
      }
    }
    expect([...victimsByDevice.values()].some((s) => s.size >= 2)).toBe(true);
    const blocked = [...victimsByDevice.keys()].filter((d) => signalsByDevice.get(d)!.some((s) => s.blocked));
    expect(blocked.length).toBeGreaterThan(0);
  });
});
