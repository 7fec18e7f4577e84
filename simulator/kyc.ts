/**
 * KYC/KYB facts per account: one record per account before the simulated period (its latest
 * verification, up to a year earlier), then occasional changes during it.
 *
 * Initial facts: account age lognormal (median about two years, 30 days to 20 years), except a
 * few accounts opened in the two weeks before the start, which are still PENDING and get VERIFIED
 * 1-10 days after opening. Established accounts are VERIFIED (2 % EXPIRED: documents out of
 * date). Risk tier LOW/MEDIUM/HIGH 70/25/5 % (businesses 40/50/10 %); PEP 0.5 % (always HIGH);
 * sanctioned 0.1 %; watchlist hits on 1.5 %. Country is the home country.
 *
 * Changes arrive at KYC_CHANGES_PER_ACCOUNT_DAY: expired documents (EXPIRED, renewed 2-20 days
 * later), a new risk tier, a new watchlist hit, a PEP match, a sanctions match (with SUSPENDED),
 * or a suspension. Each change is a full record (the topic is a compacted table).
 */
import type { KycRecord, KycStatus, RiskTier } from '../schemas/types.js';
import type { Customer } from './model.js';
import type { Random } from './random.js';
import { DAY, HOUR, MINUTE } from './time.js';

export const KYC_CHANGES_PER_ACCOUNT_DAY = 0.0005;
const NEW_ACCOUNT_SHARE = 0.03;
const CHANGE_KINDS = ['expired', 'risk_tier', 'watchlist', 'pep', 'sanctioned', 'suspended'] as const;
const CHANGE_WEIGHTS = [0.35, 0.3, 0.2, 0.07, 0.04, 0.04];

interface Facts {
  status: KycStatus;
  riskTier: RiskTier;
  pep: boolean;
  sanctioned: boolean;
  watchlistHits: number;
}

export interface KycEvent {
  customer: Customer;
  record: KycRecord;
}

function riskTier(rng: Random, business: boolean): RiskTier {
  const i = rng.weightedIndex(business ? [0.4, 0.5, 0.1] : [0.7, 0.25, 0.05]);
  return i === 0 ? 'LOW' : i === 1 ? 'MEDIUM' : 'HIGH';
}

export function generateKyc(rng: Random, customers: readonly Customer[], start: number, end: number, keyFor: (accountId: string) => string): KycEvent[] {
  const events: KycEvent[] = [];
  for (const customer of customers) {
    const r = rng.derive(`kyc:${customer.index}`);
    const business = customer.entityType === 'BUSINESS';
    const isNew = r.chance(NEW_ACCOUNT_SHARE);
    const openedAt = isNew
      ? start - Math.round(r.uniform(0.5, 14) * DAY)
      : start - Math.round(Math.min(20 * 365, Math.max(30, r.lognormal(700, 0.9))) * DAY);
    const pep = r.chance(0.005);
    const facts: Facts = {
      status: isNew ? 'PENDING' : r.chance(0.02) ? 'EXPIRED' : 'VERIFIED',
      riskTier: pep ? 'HIGH' : riskTier(r, business),
      pep,
      sanctioned: r.chance(0.001),
      watchlistHits: r.chance(0.015) ? r.int(1, 2) : 0,
    };
    const accountToken = keyFor(customer.accountId);
    const emit = (at: number): void => {
      events.push({
        customer,
        record: {
          accountToken,
          entityType: customer.entityType,
          status: facts.status,
          riskTier: facts.riskTier,
          accountOpenedAt: openedAt,
          pep: facts.pep,
          sanctioned: facts.sanctioned,
          watchlistHits: facts.watchlistHits,
          country: customer.homeCity.country,
          updatedAt: at,
          // Simulated customers have no names: the demo does not exercise screening (docs/screening.md).
          holderName: null,
        },
      });
    };
    // The latest verification before the start: shortly after opening for new accounts.
    const verifiedAt = isNew
      ? openedAt + Math.round(r.uniform(1, 60) * MINUTE)
      : Math.max(openedAt + HOUR, start - Math.round(r.uniform(1, 365) * DAY));
    emit(verifiedAt);

    const changes: { at: number; apply: () => void }[] = [];
    if (isNew) {
      const at = openedAt + Math.round(r.uniform(1, 10) * DAY);
      changes.push({ at, apply: () => (facts.status = 'VERIFIED') });
    }
    const count = r.poisson(KYC_CHANGES_PER_ACCOUNT_DAY * ((end - start) / DAY));
    for (let i = 0; i < count; i++) {
      const at = start + Math.floor(r.next() * (end - start));
      const kind = CHANGE_KINDS[r.weightedIndex(CHANGE_WEIGHTS)]!;
      switch (kind) {
        case 'expired': {
          changes.push({ at, apply: () => (facts.status = 'EXPIRED') });
          changes.push({ at: at + Math.round(r.uniform(2, 20) * DAY), apply: () => (facts.status = 'VERIFIED') });
          break;
        }
        case 'risk_tier': {
          const tier = riskTier(r, business);
          changes.push({ at, apply: () => (facts.riskTier = facts.pep ? 'HIGH' : tier) });
          break;
        }
        case 'watchlist':
          changes.push({ at, apply: () => (facts.watchlistHits += 1) });
          break;
        case 'pep':
          changes.push({ at, apply: () => ((facts.pep = true), (facts.riskTier = 'HIGH')) });
          break;
        case 'sanctioned':
          changes.push({ at, apply: () => ((facts.sanctioned = true), (facts.status = 'SUSPENDED')) });
          break;
        case 'suspended':
          changes.push({ at, apply: () => (facts.status = 'SUSPENDED') });
          break;
      }
    }
    // Changes apply in time order (a stable sort keeps draw order for equal times). Only onboarding
    // can fall before the start; it is emitted too, as the table's history.
    changes.sort((a, b) => a.at - b.at);
    for (const change of changes) {
      if (change.at >= end) continue;
      change.apply();
      emit(change.at);
    }
  }
  return events;
}
