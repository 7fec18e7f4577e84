/**
 * The list the loop screens with, shared by every task of an instance: one loaded list version and
 * its index at a time. `reload()` re-reads the file and swaps in a new version only when the
 * content changed (the version is the content hash); the screening step notices the new version at
 * its next check and re-screens its accounts (kycScreening.ts).
 */
import type { Logger } from 'pino';
import { type ListFormat, type SanctionsList, type ListVersion, loadList } from '../../screening/lists.js';
import { ScreeningIndex } from '../../screening/matcher.js';

export interface LoadedList {
  version: ListVersion;
  index: ScreeningIndex;
}

export class SanctionsListHolder {
  private loaded: LoadedList;

  constructor(list: Pick<SanctionsList, 'version' | 'entries'>, private readonly logger?: Logger) {
    this.loaded = { version: list.version, index: new ScreeningIndex(list.entries) };
  }

  static fromFile(file: string, format: ListFormat | undefined, logger?: Logger): SanctionsListHolder {
    const list = loadList(file, format ? { format } : {});
    SanctionsListHolder.logLoad(list, logger);
    const holder = new SanctionsListHolder(list, logger);
    holder.source = { file, format };
    return holder;
  }

  private source: { file: string; format: ListFormat | undefined } | null = null;

  private static logLoad(list: SanctionsList, logger?: Logger): void {
    // List rows are public designations: quoting their errors is fine (docs/screening.md).
    for (const e of list.errors.slice(0, 50)) logger?.warn({ event: 'screening-list-row-error', file: e.file, line: e.line }, e.message);
    logger?.info({ event: 'screening-list-loaded', version: list.version.id, format: list.version.format, fileDate: list.version.fileDate, entries: list.entries.length, rowErrors: list.errors.length }, 'screening list loaded');
  }

  get current(): LoadedList {
    return this.loaded;
  }

  /** Swap in a list (tests, or a caller that loaded it itself); false when its version is the current one. */
  replace(list: Pick<SanctionsList, 'version' | 'entries'>): boolean {
    if (list.version.id === this.loaded.version.id) return false;
    this.loaded = { version: list.version, index: new ScreeningIndex(list.entries) };
    return true;
  }

  /** Re-read the file; true when a new version was loaded. A file that fails to load keeps the old list. */
  reload(): boolean {
    if (this.source === null) return false;
    try {
      const list = loadList(this.source.file, this.source.format ? { format: this.source.format } : {});
      if (list.version.id === this.loaded.version.id) return false;
      SanctionsListHolder.logLoad(list, this.logger);
      return this.replace(list);
    } catch (error) {
      this.logger?.error({ event: 'screening-list-reload-failed', err: error }, 'screening list reload failed; the loaded version stays');
      return false;
    }
  }
}
