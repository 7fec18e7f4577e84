/**
 * The ordered map used by the in-memory engine and the write-back cache: a sorted-btree B+ tree
 * keyed by latin1 key strings (see bytes.ts), compared with plain string comparison.
 */
import BTreeModule from 'sorted-btree';
import { compareKeyStrings } from './bytes.js';

// sorted-btree is CommonJS with `exports.default`; under NodeNext the default import is the
// module object, so the class sits on `.default`.
const BTree = BTreeModule.default;

export type SortedStringMap<V> = InstanceType<typeof BTree<string, V>>;

export function newSortedStringMap<V>(): SortedStringMap<V> {
  return new BTree<string, V>(undefined, compareKeyStrings);
}
