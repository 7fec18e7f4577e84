/**
 * List loading: both public formats, the shipped samples load clean, bad rows are reported with
 * file:line and what is wrong while the rest loads, and the version is the content's hash.
 */
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ListLoadError, detectFormat, loadList } from '../../../screening/lists.js';

const dir = (): string => mkdtempSync(path.join(os.tmpdir(), 'riskloop-lists-'));
const NULLS = ',"-0-"'.repeat(8);

describe('OFAC SDN CSV (sdn.csv + alt.csv)', () => {
  it('loads the shipped sample with its aliases and split programs', () => {
    const list = loadList('screening/lists/sample-ofac-sdn.csv');
    expect(list.errors).toEqual([]);
    expect(list.version.format).toBe('ofac-sdn');
    expect(list.version.files).toEqual(['screening/lists/sample-ofac-sdn.csv', 'screening/lists/sample-ofac-alt.csv']);
    expect(list.entries).toHaveLength(15);
    const petrov = list.entries.find((e) => e.id === 'ofac:90001')!;
    expect(petrov).toEqual({ id: 'ofac:90001', name: 'PETROV, Ivan Sergeyevich', aliases: ['PETROFF, Ivan S.'], programs: ['FICT-RUSSIA', 'FICT-CYBER'], kind: 'SANCTION', entityType: 'individual' });
    expect(list.entries.find((e) => e.id === 'ofac:90003')!.entityType).toBe('entity');
  });

  it('reports each bad row as file:line with the reason and loads the rest', () => {
    const d = dir();
    const sdn = path.join(d, 'sdn.csv');
    const alt = path.join(d, 'alt.csv');
    writeFileSync(
      sdn,
      [
        `1,"GOOD, One","individual","P1"${NULLS}`,
        `x2,"BAD NUMBER","individual","P1"${NULLS}`,
        `3,"-0-","individual","P1"${NULLS}`,
        `4,"TOO FEW","individual"`,
        `1,"DUPLICATE","individual","P1"${NULLS}`,
        `5,"GOOD, Two","-0-","P2] [P3"${NULLS}`,
        '\x1a',
      ].join('\r\n'),
    );
    writeFileSync(alt, ['1,10,"aka","ONE, Good","-0-"', '99,11,"aka","ORPHAN","-0-"', '5,12,"aka","-0-","-0-"', '5,13,"aka"'].join('\n'));
    const list = loadList(sdn);
    expect(list.entries.map((e) => [e.id, e.aliases, e.programs])).toEqual([
      ['ofac:1', ['ONE, Good'], ['P1']],
      ['ofac:5', [], ['P2', 'P3']],
    ]);
    expect(list.errors).toEqual([
      { file: sdn, line: 2, message: 'ent_num "x2" is not a number' },
      { file: sdn, line: 3, message: 'ent_num 3: SDN_Name is empty' },
      { file: sdn, line: 4, message: 'expected 12 columns (ent_num … Remarks), found 3' },
      { file: sdn, line: 5, message: 'ent_num 1 appears twice; the first row is kept' },
      { file: alt, line: 2, message: 'alias for ent_num "99", which sdn.csv does not list' },
      { file: alt, line: 3, message: 'ent_num 5: alt_name is empty' },
      { file: alt, line: 4, message: 'expected 5 columns (ent_num, alt_num, alt_type, alt_name, alt_remarks), found 3' },
    ]);
  });

  it('a row with broken quoting is reported with its line (the parser\'s reason, no row text) and the rows after it load', () => {
    const d = dir();
    const sdn = path.join(d, 'sdn.csv');
    writeFileSync(sdn, `1,"GOOD"${NULLS},"-0-","-0-"\n2,"BROKEN${NULLS}\n3,"ALSO GOOD"${NULLS},"-0-","-0-"\n`);
    const list = loadList(sdn);
    expect(list.entries.map((e) => e.id)).toEqual(['ofac:1', 'ofac:3']);
    expect(list.errors).toHaveLength(1);
    expect(list.errors[0]!.line).toBe(2);
    expect(list.errors[0]!.message).not.toContain('BROKEN');
  });
});

describe('OpenSanctions targets.simple.csv', () => {
  it('loads the shipped sample: sanctions rows are SANCTION, the others PEP, aliases split on ";"', () => {
    const list = loadList('screening/lists/sample-opensanctions.csv');
    expect(list.errors).toEqual([]);
    expect(list.version.format).toBe('opensanctions');
    expect(list.entries).toHaveLength(10);
    expect(list.entries[0]).toEqual({
      id: 'os:fict-pep-001',
      name: 'Elena Vasilyevna Sokolova',
      aliases: ['Елена Васильевна Соколова', 'Jelena Sokolova'],
      programs: ['riskloop fictional sample (not a real list)'],
      kind: 'PEP',
      entityType: 'Person',
    });
    expect(list.entries.find((e) => e.id === 'os:fict-san-004')!.kind).toBe('SANCTION');
  });

  it('reports bad rows and loads the rest; a header without the needed columns fails', () => {
    const d = dir();
    const f = path.join(d, 'targets.simple.csv');
    writeFileSync(f, ['id,schema,name,aliases,sanctions', 'a1,Person,Good Name,,Prog', ',Person,No Id,,', 'a3,Person,,,', 'a4,Person,Short', 'a1,Person,Again,,', 'a6,Company,Good Co,Good Company Ltd,'].join('\n'));
    const list = loadList(f);
    expect(list.entries.map((e) => [e.id, e.kind])).toEqual([
      ['os:a1', 'SANCTION'],
      ['os:a6', 'PEP'],
    ]);
    expect(list.errors).toEqual([
      { file: f, line: 3, message: 'id is empty' },
      { file: f, line: 4, message: 'a3: name is empty' },
      { file: f, line: 5, message: 'expected 5 columns as in the header, found 3' },
      { file: f, line: 6, message: 'a1 appears twice; the first row is kept' },
    ]);
    const bad = path.join(d, 'bad.csv');
    writeFileSync(bad, 'id,caption\nx,y\n');
    expect(() => loadList(bad)).toThrow(/bad\.csv:1: neither an OFAC/);
    expect(() => loadList(bad, { format: 'opensanctions' })).toThrow(/bad\.csv:1: header lacks column\(s\) schema, name/);
  });
});

describe('list version', () => {
  it('is the content hash: the same bytes touched later keep it, one changed byte changes it; the file date is kept beside it', () => {
    const d = dir();
    const f = path.join(d, 'targets.simple.csv');
    writeFileSync(f, 'id,schema,name\na1,Person,Some Body\n');
    const v1 = loadList(f).version;
    utimesSync(f, new Date('2026-01-02T03:04:05Z'), new Date('2026-01-02T03:04:05Z'));
    const v2 = loadList(f).version;
    expect(v2.id).toBe(v1.id);
    expect(v2.fileDate).toBe('2026-01-02T03:04:05.000Z');
    writeFileSync(f, 'id,schema,name\na1,Person,Some Bodi\n');
    expect(loadList(f).version.id).not.toBe(v1.id);
    expect(v1.id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('detects the format from the first line', () => {
    expect(detectFormat('\uFEFFid,schema,name,aliases\n')).toBe('opensanctions');
    expect(detectFormat('36,"AEROCARIBBEAN AIRLINES","-0-","CUBA"')).toBe('ofac-sdn');
    expect(detectFormat('name;country')).toBeNull();
  });
});
