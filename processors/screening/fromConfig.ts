/**
 * Screening from the process configuration (bin/config.ts): the list file (loaded now; a file that
 * does not load stops the start, with file:line), the sealing key file, and a timer that re-reads
 * the list so a new version is screened without a restart. Returns null when no list is configured.
 */
import type { Logger } from 'pino';
import type { ScreeningHit } from '../../schemas/types.js';
import type { Serde } from '../../topology/serde.js';
import { ScreeningCounters } from './kycScreening.js';
import { SanctionsListHolder } from './listHolder.js';
import { NameSealer } from './sealedName.js';
import type { ScreeningDeps } from './wiring.js';

export interface ScreeningSettings {
  sanctionsListFile: string;
  sanctionsListFormat: 'auto' | 'ofac-sdn' | 'opensanctions';
  sanctionsListReloadMs: number;
  screeningKeyFile: string;
  screeningThreshold: number;
}

export interface ConfiguredScreening {
  deps: ScreeningDeps;
  /** Stops the list reload timer. */
  stop(): void;
}

export function screeningFromConfig(settings: ScreeningSettings, hitsSerde: Serde<ScreeningHit>, logger: Logger): ConfiguredScreening | null {
  if (settings.sanctionsListFile === '') return null;
  const lists = SanctionsListHolder.fromFile(settings.sanctionsListFile, settings.sanctionsListFormat === 'auto' ? undefined : settings.sanctionsListFormat, logger);
  const sealer = settings.screeningKeyFile === '' ? null : NameSealer.fromFile(settings.screeningKeyFile);
  if (sealer === null) logger.warn({ event: 'screening-no-key' }, 'no screening key file: holder names are not kept, a new list version applies at each account\'s next KYC update');
  const timer = setInterval(() => lists.reload(), settings.sanctionsListReloadMs);
  timer.unref();
  return {
    deps: { lists, sealer, hitsSerde, counters: new ScreeningCounters(), config: { threshold: settings.screeningThreshold } },
    stop: () => clearInterval(timer),
  };
}
