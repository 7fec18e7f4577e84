/**
 * Sanctions / PEP lists in two public formats, loaded into one entry shape.
 *
 * - OFAC SDN, legacy CSV release: `sdn.csv` (no header; 12 columns: ent_num, SDN_Name, SDN_Type,
 *   Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks; "-0-" is
 *   null) plus, beside it, `alt.csv` (ent_num, alt_num, alt_type, alt_name, alt_remarks) for the
 *   aliases. The alt file is found by replacing "sdn" with "alt" in the file name, or given.
 *   Several programs are written "SDGT] [IRGC" (brackets of the printed list); they are split.
 * - OpenSanctions `targets.simple.csv`: a header row with id, schema, name, aliases, …, sanctions,
 *   dataset, …; multi-valued cells separated by ";". An entry with a sanctions cell is a SANCTION,
 *   one without (the PEP datasets) a PEP.
 *
 * A bad row is reported (file:line and what is wrong) and skipped; the rest loads. List rows are
 * public designations, so an error may quote the row's id and name. A file that is not CSV at all
 * (an unterminated quote runs to the end) fails the load: nothing after it can be trusted.
 *
 * The list version is the SHA-256 of the content (both OFAC files), so touching a file is not a new
 * version and the same list on two instances has the same version; the file date is kept beside it
 * for people.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { CsvError, parse } from 'csv-parse/sync';

export type ListKind = 'SANCTION' | 'PEP';
export type ListFormat = 'ofac-sdn' | 'opensanctions';

export interface ListEntry {
  /** Unique in the list: "ofac:<ent_num>" or "os:<OpenSanctions id>". */
  id: string;
  name: string;
  aliases: string[];
  programs: string[];
  kind: ListKind;
  /** individual / entity / vessel / aircraft (OFAC) or the FollowTheMoney schema (OpenSanctions). */
  entityType: string;
}

export interface ListRowError {
  file: string;
  line: number;
  message: string;
}

export interface ListVersion {
  /** First 16 hex digits of the SHA-256 of the content: what the loop compares. */
  id: string;
  format: ListFormat;
  /** Modification time of the (main) file, ISO 8601. */
  fileDate: string;
  files: string[];
}

export interface SanctionsList {
  version: ListVersion;
  entries: ListEntry[];
  errors: ListRowError[];
}

export class ListLoadError extends Error {
  override readonly name = 'ListLoadError';
}

const OFAC_NULL = '-0-';
const OFAC_SDN_COLUMNS = 12;
const OFAC_ALT_COLUMNS = 5;
const OS_REQUIRED = ['id', 'schema', 'name'] as const;

interface Row {
  line: number;
  cells: string[];
}

function parseRows(text: string, file: string, errors: ListRowError[]): Row[] {
  const rows: Row[] = [];
  try {
    const records = parse(text, {
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      bom: true,
      trim: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        if (err) errors.push({ file, line: Number(err.lines), message: err.message.replace(/^[^:]*:\s*/, '') });
      },
    }) as unknown as { record: string[]; info: { lines: number } }[];
    for (const r of records) rows.push({ line: r.info.lines, cells: r.record });
  } catch (error) {
    if (error instanceof CsvError) throw new ListLoadError(`${file}:${String(error.lines)}: not a CSV file from here on (${error.code})`);
    throw error;
  }
  return rows;
}

const ofacValue = (cell: string | undefined): string => (cell === undefined || cell === OFAC_NULL ? '' : cell);

/** OFAC's printed form "SDGT] [IRGC" (or "SDGT; IRGC") into ["SDGT", "IRGC"]. */
function ofacPrograms(cell: string): string[] {
  return cell
    .split(/\]\s*\[|;/)
    .map((p) => p.replace(/[[\]]/g, '').trim())
    .filter((p) => p.length > 0);
}

export function parseOfac(sdnText: string, sdnFile: string, altText: string | null, altFile: string | null): { entries: ListEntry[]; errors: ListRowError[] } {
  const errors: ListRowError[] = [];
  const byNum = new Map<string, ListEntry>();
  for (const { line, cells } of parseRows(sdnText, sdnFile, errors)) {
    // OFAC's files end with a DOS end-of-file character on a line of its own.
    if (cells.length === 1 && /^\x1a?$/.test(cells[0]!)) continue;
    if (cells.length !== OFAC_SDN_COLUMNS) {
      errors.push({ file: sdnFile, line, message: `expected ${OFAC_SDN_COLUMNS} columns (ent_num … Remarks), found ${cells.length}` });
      continue;
    }
    const [num, name, type, program] = cells as [string, string, string, string];
    if (!/^\d+$/.test(num)) {
      errors.push({ file: sdnFile, line, message: `ent_num "${num.slice(0, 20)}" is not a number` });
      continue;
    }
    if (ofacValue(name) === '') {
      errors.push({ file: sdnFile, line, message: `ent_num ${num}: SDN_Name is empty` });
      continue;
    }
    if (byNum.has(num)) {
      errors.push({ file: sdnFile, line, message: `ent_num ${num} appears twice; the first row is kept` });
      continue;
    }
    byNum.set(num, { id: `ofac:${num}`, name, aliases: [], programs: ofacPrograms(ofacValue(program)), kind: 'SANCTION', entityType: ofacValue(type) || 'entity' });
  }
  if (altText !== null && altFile !== null) {
    for (const { line, cells } of parseRows(altText, altFile, errors)) {
      if (cells.length === 1 && /^\x1a?$/.test(cells[0]!)) continue;
      if (cells.length !== OFAC_ALT_COLUMNS) {
        errors.push({ file: altFile, line, message: `expected ${OFAC_ALT_COLUMNS} columns (ent_num, alt_num, alt_type, alt_name, alt_remarks), found ${cells.length}` });
        continue;
      }
      const [num, , , alias] = cells as [string, string, string, string];
      const entry = byNum.get(num);
      if (entry === undefined) {
        errors.push({ file: altFile, line, message: `alias for ent_num "${num.slice(0, 20)}", which sdn.csv does not list` });
        continue;
      }
      if (ofacValue(alias) === '') {
        errors.push({ file: altFile, line, message: `ent_num ${num}: alt_name is empty` });
        continue;
      }
      entry.aliases.push(alias);
    }
  }
  return { entries: [...byNum.values()], errors };
}

const multi = (cell: string | undefined): string[] =>
  (cell ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

export function parseOpenSanctions(text: string, file: string): { entries: ListEntry[]; errors: ListRowError[] } {
  const errors: ListRowError[] = [];
  const rows = parseRows(text, file, errors);
  const header = rows.shift();
  if (header === undefined) throw new ListLoadError(`${file}: empty file`);
  const col = new Map(header.cells.map((h, i) => [h.trim().toLowerCase(), i]));
  const missing = OS_REQUIRED.filter((c) => !col.has(c));
  if (missing.length > 0) throw new ListLoadError(`${file}:${header.line}: header lacks column(s) ${missing.join(', ')} of targets.simple.csv`);
  const at = (cells: string[], c: string): string | undefined => {
    const i = col.get(c);
    return i === undefined ? undefined : cells[i];
  };
  const seen = new Set<string>();
  const entries: ListEntry[] = [];
  for (const { line, cells } of rows) {
    if (cells.length !== header.cells.length) {
      errors.push({ file, line, message: `expected ${header.cells.length} columns as in the header, found ${cells.length}` });
      continue;
    }
    const id = at(cells, 'id') ?? '';
    const name = at(cells, 'name') ?? '';
    if (id === '') {
      errors.push({ file, line, message: 'id is empty' });
      continue;
    }
    if (name === '') {
      errors.push({ file, line, message: `${id}: name is empty` });
      continue;
    }
    if (seen.has(id)) {
      errors.push({ file, line, message: `${id} appears twice; the first row is kept` });
      continue;
    }
    seen.add(id);
    const sanctions = multi(at(cells, 'sanctions'));
    entries.push({
      id: `os:${id}`,
      name,
      aliases: multi(at(cells, 'aliases')).filter((a) => a !== name),
      programs: sanctions.length > 0 ? sanctions : multi(at(cells, 'dataset')),
      kind: sanctions.length > 0 ? 'SANCTION' : 'PEP',
      entityType: at(cells, 'schema') || 'Thing',
    });
  }
  return { entries, errors };
}

/** OpenSanctions files start with their header; an OFAC sdn.csv row starts with a number. */
export function detectFormat(text: string): ListFormat | null {
  const first = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  const cells = first.split(',').map((c) => c.replace(/"/g, '').trim().toLowerCase());
  if (OS_REQUIRED.every((c) => cells.includes(c))) return 'opensanctions';
  if (/^\d+$/.test(cells[0] ?? '')) return 'ofac-sdn';
  return null;
}

export interface LoadListOptions {
  /** Default: detected from the first line. */
  format?: ListFormat;
  /** OFAC only; default: the file name with "sdn" replaced by "alt", if that file exists. */
  altFile?: string;
}

export function loadList(file: string, options: LoadListOptions = {}): SanctionsList {
  const text = readFileSync(file, 'utf8');
  const format = options.format ?? detectFormat(text);
  if (format === null) throw new ListLoadError(`${file}:1: neither an OFAC sdn.csv row nor an OpenSanctions targets.simple.csv header; set the format`);
  const hash = createHash('sha256').update(text);
  const files = [file];
  let parsed: { entries: ListEntry[]; errors: ListRowError[] };
  if (format === 'ofac-sdn') {
    const guess = path.join(path.dirname(file), path.basename(file).replace(/sdn/i, 'alt'));
    const altFile = options.altFile ?? (guess !== file && existsSync(guess) ? guess : null);
    const altText = altFile === null ? null : readFileSync(altFile, 'utf8');
    if (altFile !== null && altText !== null) {
      hash.update('\0').update(altText);
      files.push(altFile);
    }
    parsed = parseOfac(text, file, altText, altFile);
  } else {
    parsed = parseOpenSanctions(text, file);
  }
  return {
    version: { id: hash.digest('hex').slice(0, 16), format, fileDate: statSync(file).mtime.toISOString(), files },
    ...parsed,
  };
}

/** Where an entry's names are: the primary name first, then the aliases. */
export function entryNames(entry: ListEntry): string[] {
  return [entry.name, ...entry.aliases];
}
