/**
 * Where screening sits in the loop (processors/riskLoop.ts calls these when screening is
 * configured): the KYC screening step between the kyc partition check and the KYC table, the
 * screening-hits sink, the screening store, and the facts step on the transaction path.
 */
import type { StoreOptions } from '../../state/stores.js';
import type { Serde } from '../../topology/serde.js';
import { Serdes } from '../../topology/serde.js';
import type { Topology } from '../../topology/topology.js';
import type { KycRecord, ScreeningHit } from '../../schemas/types.js';
import type { ProcessorSupplier } from '../../topology/processor.js';
import { screeningFactsProcessor } from './facts.js';
import { ScreeningConfig, ScreeningCounters, kycScreeningProcessor, screeningStore } from './kycScreening.js';
import type { SanctionsListHolder } from './listHolder.js';
import type { NameSealer } from './sealedName.js';

export const ScreeningNodes = {
  kycScreening: 'kyc-screening',
  hitsSink: 'screening-hits-sink',
  facts: 'screening-facts',
} as const;

export interface ScreeningDeps {
  lists: SanctionsListHolder;
  /** Null: keep no name; a new list version applies at each account's next KYC update. */
  sealer: NameSealer | null;
  config?: Partial<ScreeningConfig>;
  hitsSerde: Serde<ScreeningHit>;
  counters?: ScreeningCounters;
}

/** The step for addKycTable's `screen` option. */
export function kycScreeningStep(deps: ScreeningDeps, tableChild: string): { name: string; supplier: ProcessorSupplier<string, KycRecord | null, string, unknown> } {
  return {
    name: ScreeningNodes.kycScreening,
    supplier: kycScreeningProcessor({
      lists: deps.lists,
      sealer: deps.sealer,
      config: ScreeningConfig.parse(deps.config ?? {}),
      tableChild,
      hitsChild: ScreeningNodes.hitsSink,
      ...(deps.counters ? { counters: deps.counters } : {}),
    }),
  };
}

/**
 * The hits sink, the facts step after `factsParent` and the store both steps share; returns the
 * facts step's name (the parent of whatever came after `factsParent`).
 */
export function addScreeningOutputs(t: Topology, opts: { hitsTopic: string; deps: ScreeningDeps; factsParent: string; storeOptions: StoreOptions }): string {
  t.addSink(ScreeningNodes.hitsSink, opts.hitsTopic, { keySerde: Serdes.String, valueSerde: opts.deps.hitsSerde }, ScreeningNodes.kycScreening)
    .addProcessor(ScreeningNodes.facts, screeningFactsProcessor(), opts.factsParent)
    .addStateStore(screeningStore(opts.storeOptions), [ScreeningNodes.kycScreening, ScreeningNodes.facts]);
  return ScreeningNodes.facts;
}
