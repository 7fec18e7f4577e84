/**
 * Compatibility levels and their check, with avsc's schema resolution as the judge:
 * `reader.createResolver(writer)` throws exactly when data written with `writer` cannot be read
 * with `reader` (Avro's resolution rules), and its message says why.
 *
 *   BACKWARD: the new schema reads data written with the old one (consumers upgrade first)
 *   FORWARD:  the old schema reads data written with the new one (producers upgrade first)
 *   FULL:     both
 * Plain levels check against the latest version only; *_TRANSITIVE against every live version.
 */
import type avro from 'avsc';

export const COMPATIBILITY_LEVELS = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;

export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

/** Confluent's default, and what the kafkajs client asks for unless told otherwise. */
export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

export function parseCompatibilityLevel(value: unknown): CompatibilityLevel | undefined {
  if (typeof value !== 'string') return undefined;
  const upper = value.toUpperCase();
  return COMPATIBILITY_LEVELS.find((l) => l === upper);
}

export interface ExistingVersion {
  version: number;
  id: number;
  type: avro.Type;
}

/**
 * Checks `candidate` against `existing` (ordered oldest first) under `level`.
 * Returns one message per violation; an empty list means compatible.
 */
export function compatibilityProblems(
  level: CompatibilityLevel,
  candidate: avro.Type,
  existing: readonly ExistingVersion[],
): string[] {
  if (level === 'NONE' || existing.length === 0) return [];
  const transitive = level.endsWith('_TRANSITIVE');
  const against = transitive ? existing : existing.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const problems: string[] = [];
  // Newest first, so the first message names the version a user most likely meant to evolve.
  for (const old of [...against].reverse()) {
    if (backward) {
      const why = cannotRead(candidate, old.type);
      if (why !== undefined) {
        problems.push(
          `incompatible with version ${old.version} (id ${old.id}): the new schema cannot read data ` +
            `written with version ${old.version} (${level}): ${why}`,
        );
      }
    }
    if (forward) {
      const why = cannotRead(old.type, candidate);
      if (why !== undefined) {
        problems.push(
          `incompatible with version ${old.version} (id ${old.id}): version ${old.version} cannot read ` +
            `data written with the new schema (${level}): ${why}`,
        );
      }
    }
  }
  return problems;
}

/** avsc's reason why `reader` cannot read what `writer` wrote, or undefined when it can. */
function cannotRead(reader: avro.Type, writer: avro.Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
