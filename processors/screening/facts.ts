/**
 * The screening facts of the account, added to each transaction's context on the hot path (after
 * enrichment), read from the screening store the KYC screening step keeps (kycScreening.ts). They
 * are what the rules decide on (rules/ruleset.json: screening-sanctions-*, screening-pep):
 *
 *   screening.sanctions_score  best score of a SANCTION hit, 0 without one
 *   screening.sanctions_hit    1 when the account has a SANCTION hit (score ≥ threshold)
 *   screening.pep_hit          1 when the account has a PEP hit
 *   screening.screened         1 when the account's holder name was ever screened
 *   fact screening.sanctions_entry   list entry id of the best SANCTION hit, or NONE
 *
 * No name and no list text: only the score and the entry id, which the decision record keeps.
 */
import type { KeyValueStore } from '../../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../../topology/processor.js';
import type { Record } from '../../topology/records.js';
import type { RiskContext } from '../types.js';
import { SCREENING_STORE, type ScreeningRow } from './kycScreening.js';

export const ScreeningFeatures = {
  sanctionsScore: 'screening.sanctions_score',
  sanctionsHit: 'screening.sanctions_hit',
  pepHit: 'screening.pep_hit',
  screened: 'screening.screened',
} as const;
export const ScreeningFacts = { sanctionsEntry: 'screening.sanctions_entry' } as const;
export const NO_ENTRY = 'NONE';

export function addScreeningFacts(context: RiskContext, row: ScreeningRow | undefined): void {
  const sanctions = (row?.hits ?? []).filter((h) => h.kind === 'SANCTION').sort((a, b) => b.score - a.score);
  context.features[ScreeningFeatures.sanctionsScore] = sanctions[0]?.score ?? 0;
  context.features[ScreeningFeatures.sanctionsHit] = sanctions.length > 0 ? 1 : 0;
  context.features[ScreeningFeatures.pepHit] = (row?.hits ?? []).some((h) => h.kind === 'PEP') ? 1 : 0;
  context.features[ScreeningFeatures.screened] = row === undefined ? 0 : 1;
  context.facts[ScreeningFacts.sanctionsEntry] = sanctions[0]?.entryId ?? NO_ENTRY;
}

export class ScreeningFactsProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  private store!: KeyValueStore<string, ScreeningRow>;

  init(ctx: ProcessorContext<string, RiskContext>): void {
    this.ctx = ctx;
    this.store = ctx.getStateStore(SCREENING_STORE);
  }

  process(record: Record<string, RiskContext>): void {
    addScreeningFacts(record.value, this.store.get(record.value.txn.accountToken));
    this.ctx.forward(record);
  }
}

export function screeningFactsProcessor(): ProcessorSupplier<string, RiskContext, string, RiskContext> {
  return () => new ScreeningFactsProcessor();
}
