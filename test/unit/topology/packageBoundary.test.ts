/**
 * The streams library (topology/ + state/) stands alone: no imports from the risk loop, and the
 * examples use only the public entry point `riskloop/streams`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

function imports(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
}

describe('streams package boundary', () => {
  it('topology/ and state/ import nothing from processors/, schemas/, bin/ or other risk-loop folders', () => {
    const files = [...tsFiles('topology'), ...tsFiles('state')];
    expect(files.length).toBeGreaterThan(50);
    const offending: string[] = [];
    for (const file of files) {
      for (const spec of imports(file)) {
        if (!spec.startsWith('.')) continue;
        const target = path.relative(root, path.resolve(root, path.dirname(file), spec));
        const top = target.split(path.sep)[0];
        if (top !== 'topology' && top !== 'state') offending.push(`${file} -> ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('package.json exports riskloop/streams, and the examples import only it', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string> };
    expect(pkg.exports['./streams']).toBe('./topology/streams.ts');
    const examples = tsFiles('examples');
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const file of examples) {
      const bare = imports(file).filter((s) => !s.startsWith('node:'));
      expect(bare, file).toEqual(['riskloop/streams']);
    }
  });

  it('the entry point exports the DSL, the runtime, stores and the test driver', async () => {
    const lib = await import('riskloop/streams');
    for (const name of ['StreamsBuilder', 'KafkaStreams', 'Stores', 'TopologyTestDriver', 'KGroupedTable', 'JoinWindows', 'Serdes', 'Materialized']) {
      expect(lib, name).toHaveProperty(name);
    }
  });
});
