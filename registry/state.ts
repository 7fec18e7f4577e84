/**
 * The registry's state: what the `_schemas` topic says, applied record by record in offset order.
 *
 * Applying is "last record per key wins", which is exactly what compaction keeps, so the state
 * after reading a compacted topic equals the state after reading the full history. That only holds
 * because writers never race (see store.ts: one fenced writer at a time); the state itself takes
 * records as facts and never judges them.
 */
import { schemaForms } from './avro.js';
import type { CompatibilityLevel } from './compatibility.js';
import type { Mode, SchemaValue, TopicRecord } from './records.js';

export type SchemaVersion = Readonly<SchemaValue>;

export class RegistryState {
  /** subject → version → schema record */
  private readonly subjects = new Map<string, Map<number, SchemaVersion>>();
  private readonly schemaById = new Map<number, string>();
  /** Java-printed form → id, and normalized form → id: "the same schema" (see avro.ts). */
  private readonly idByForm = new Map<string, number>();
  private readonly idByNormal = new Map<string, number>();
  /** id → the subject versions that use it, to forget an id once its last use is tombstoned */
  private readonly usesOfId = new Map<number, Map<string, { subject: string; version: number }>>();
  private readonly subjectLevels = new Map<string, CompatibilityLevel>();
  private globalConfig: CompatibilityLevel | undefined;
  private readonly subjectModes = new Map<string, Mode>();
  private globalModeValue: Mode | undefined;
  /** Never decreases: an id stays taken after its schema is permanently deleted. */
  private highestId = 0;

  apply(record: TopicRecord): void {
    switch (record.key.keytype) {
      case 'SCHEMA': {
        const { subject, version } = record.key;
        const value = record.value as SchemaValue | null;
        this.removeVersion(subject, version);
        if (value !== null) this.putVersion({ ...value, subject, version });
        return;
      }
      case 'CONFIG': {
        const level = (record.value as { compatibilityLevel: CompatibilityLevel } | null)?.compatibilityLevel;
        if (record.key.subject === null) this.globalConfig = level;
        else if (level === undefined) this.subjectLevels.delete(record.key.subject);
        else this.subjectLevels.set(record.key.subject, level);
        return;
      }
      case 'MODE': {
        const mode = (record.value as { mode: Mode } | null)?.mode;
        if (record.key.subject === null) this.globalModeValue = mode;
        else if (mode === undefined) this.subjectModes.delete(record.key.subject);
        else this.subjectModes.set(record.key.subject, mode);
        return;
      }
      case 'DELETE_SUBJECT': {
        // Confluent's soft delete of a whole subject; riskloop itself rewrites each SCHEMA record.
        const upTo = (record.value as { version: number } | null)?.version;
        if (upTo === undefined) return;
        for (const v of this.subjects.get(record.key.subject)?.values() ?? []) {
          if (v.version <= upTo && !v.deleted) this.putVersion({ ...v, deleted: true });
        }
        return;
      }
      case 'ID_WATERMARK': {
        const maxId = (record.value as { maxId: number } | null)?.maxId ?? 0;
        this.highestId = Math.max(this.highestId, maxId);
        return;
      }
      case 'NOOP':
        return;
    }
  }

  /** Subjects with at least one version (live ones only unless includeDeleted), sorted. */
  subjectNames(includeDeleted: boolean): string[] {
    const names: string[] = [];
    for (const [name, versions] of this.subjects) {
      if ([...versions.values()].some((v) => includeDeleted || !v.deleted)) names.push(name);
    }
    return names.sort();
  }

  hasSubject(subject: string): boolean {
    return (this.subjects.get(subject)?.size ?? 0) > 0;
  }

  /** Versions of a subject, oldest first. */
  versions(subject: string, includeDeleted: boolean): SchemaVersion[] {
    const versions = [...(this.subjects.get(subject)?.values() ?? [])];
    return versions.filter((v) => includeDeleted || !v.deleted).sort((a, b) => a.version - b.version);
  }

  version(subject: string, version: number): SchemaVersion | undefined {
    return this.subjects.get(subject)?.get(version);
  }

  latest(subject: string, includeDeleted: boolean): SchemaVersion | undefined {
    return this.versions(subject, includeDeleted).at(-1);
  }

  /** The highest version number ever used in the subject, deleted ones included (never reused). */
  maxVersion(subject: string): number {
    return Math.max(0, ...(this.subjects.get(subject)?.keys() ?? []));
  }

  schemaOfId(id: number): string | undefined {
    return this.schemaById.get(id);
  }

  /** The id of a schema with this form (normalize: the normalized form), if any. */
  idOfSchema(form: string, normalized = false): number | undefined {
    return (normalized ? this.idByNormal : this.idByForm).get(form);
  }

  usesOf(id: number): { subject: string; version: number }[] {
    return [...(this.usesOfId.get(id)?.values() ?? [])].sort(
      (a, b) => a.subject.localeCompare(b.subject) || a.version - b.version,
    );
  }

  /** The highest id ever handed out; the next new schema gets maxId() + 1. */
  maxId(): number {
    return this.highestId;
  }

  subjectLevel(subject: string): CompatibilityLevel | undefined {
    return this.subjectLevels.get(subject);
  }

  globalLevel(): CompatibilityLevel | undefined {
    return this.globalConfig;
  }

  subjectMode(subject: string): Mode | undefined {
    return this.subjectModes.get(subject);
  }

  globalMode(): Mode | undefined {
    return this.globalModeValue;
  }

  /** Every id in use, ascending. */
  ids(): number[] {
    return [...this.schemaById.keys()].sort((a, b) => a - b);
  }

  private putVersion(v: SchemaVersion): void {
    let versions = this.subjects.get(v.subject);
    if (versions === undefined) {
      versions = new Map();
      this.subjects.set(v.subject, versions);
    }
    versions.set(v.version, v);
    this.highestId = Math.max(this.highestId, v.id);
    if (!this.schemaById.has(v.id)) this.schemaById.set(v.id, v.schema);
    const forms = schemaForms(v.schema);
    if (!this.idByForm.has(forms.form)) this.idByForm.set(forms.form, v.id);
    if (!this.idByNormal.has(forms.normal)) this.idByNormal.set(forms.normal, v.id);
    let uses = this.usesOfId.get(v.id);
    if (uses === undefined) {
      uses = new Map();
      this.usesOfId.set(v.id, uses);
    }
    uses.set(useKey(v.subject, v.version), { subject: v.subject, version: v.version });
  }

  private removeVersion(subject: string, version: number): void {
    const versions = this.subjects.get(subject);
    const old = versions?.get(version);
    if (versions === undefined || old === undefined) return;
    versions.delete(version);
    if (versions.size === 0) this.subjects.delete(subject);
    const uses = this.usesOfId.get(old.id);
    uses?.delete(useKey(subject, version));
    if (uses !== undefined && uses.size === 0) {
      // The id's last use is gone (a permanent delete). Its number stays taken (highestId), also
      // for a reader of the compacted topic, which sees the ID_WATERMARK written with the delete.
      this.usesOfId.delete(old.id);
      this.schemaById.delete(old.id);
      const forms = schemaForms(old.schema);
      if (this.idByForm.get(forms.form) === old.id) this.idByForm.delete(forms.form);
      if (this.idByNormal.get(forms.normal) === old.id) this.idByNormal.delete(forms.normal);
    }
  }
}

function useKey(subject: string, version: number): string {
  return `${version}\u0000${subject}`;
}
