/**
 * The ordered map used by the in-memory engine and the write-back cache: a sorted-btree B+ tree
 * keyed by latin1 key strings (see bytes.ts), compared with plain string comparison.
 */
import { createRequire } from 'node:module';
import type SortedBTreeExports from 'sorted-btree';
import { compareKeyStrings } from './bytes.js';

// sorted-btree is CommonJS exporting its class as `exports.default`. An ESM default import of it
// resolves differently under Node (the exports object) and under vite/esbuild interop (the class),
// so it is required, which means the same thing everywhere.
const BTree = (createRequire(import.meta.url)('sorted-btree') as typeof SortedBTreeExports).default;

export type SortedStringMap<V> = InstanceType<typeof BTree<string, V>>;

export function newSortedStringMap<V>(): SortedStringMap<V> {
  return new BTree<string, V>(undefined, compareKeyStrings);
}
