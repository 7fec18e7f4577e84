import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { screeningFromConfig } from '../../../processors/screening/fromConfig.js';
import { SanctionsListHolder } from '../../../processors/screening/listHolder.js';
import type { ScreeningHit } from '../../../schemas/types.js';
import { localAvroSerde } from '../../support/riskLoopFixture.js';

const silent = pino({ level: 'silent' });

describe('the list holder', () => {
  it('reload swaps in a new version only when the content changed, and keeps the old one when the file breaks', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-holder-'));
    const file = path.join(dir, 'targets.simple.csv');
    writeFileSync(file, 'id,schema,name\na1,Person,Some Body\n');
    const holder = SanctionsListHolder.fromFile(file, undefined, silent);
    const v1 = holder.current.version.id;
    expect(holder.reload()).toBe(false);
    writeFileSync(file, 'id,schema,name\na1,Person,Some Body\na2,Person,Other Person\n');
    expect(holder.reload()).toBe(true);
    expect(holder.current.version.id).not.toBe(v1);
    expect(holder.current.index.screen('Other Person').map((m) => m.entry.id)).toEqual(['os:a2']);
    const v2 = holder.current.version.id;
    writeFileSync(file, 'nothing,like,a,list\n');
    expect(holder.reload()).toBe(false);
    expect(holder.current.version.id).toBe(v2);
  });
});

describe('screening from the process configuration', () => {
  const hitsSerde = localAvroSerde<ScreeningHit>('ScreeningHit');
  const base = { sanctionsListFormat: 'auto' as const, sanctionsListReloadMs: 60_000, screeningThreshold: 0.9 };

  it('is off without a list file', () => {
    expect(screeningFromConfig({ ...base, sanctionsListFile: '', screeningKeyFile: '' }, hitsSerde, silent)).toBeNull();
  });

  it('loads the list (OFAC with its alt.csv), the key file, and the threshold', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-screening-'));
    copyFileSync('screening/lists/sample-ofac-sdn.csv', path.join(dir, 'sdn.csv'));
    copyFileSync('screening/lists/sample-ofac-alt.csv', path.join(dir, 'alt.csv'));
    const key = path.join(dir, 'screening.key');
    writeFileSync(key, 'ab'.repeat(32));
    const s = screeningFromConfig({ ...base, sanctionsListFile: path.join(dir, 'sdn.csv'), screeningKeyFile: key }, hitsSerde, silent)!;
    try {
      expect(s.deps.lists.current.index.stats().entries).toBe(15);
      expect(s.deps.lists.current.index.screen('Ivan Petroff').map((m) => m.explanation.listName)).toEqual(['PETROFF, Ivan S.']);
      expect(s.deps.sealer).not.toBeNull();
      expect(s.deps.config).toEqual({ threshold: 0.9 });
    } finally {
      s.stop();
    }
    expect(() => screeningFromConfig({ ...base, sanctionsListFile: path.join(dir, 'missing.csv'), screeningKeyFile: '' }, hitsSerde, silent)).toThrow(/ENOENT/);
  });
});
