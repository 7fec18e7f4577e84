/** The state stores' public surface. */
export type {
  ChangeRecord,
  ChangelogSink,
  KeyValue,
  KeyValueStore,
  StateStore,
  StoreBuilder,
  StoreContext,
  WindowStore,
  WindowedKeyValue,
  WindowedValue,
} from './types.js';
export {
  DEFAULT_CACHE_MAX_ENTRIES,
  Stores,
  defaultSegmentIntervalMs,
  type KeyValueStoreBuilder,
  type StoreOptions,
  type WindowStoreBuilder,
  type WindowStoreOptions,
} from './stores.js';
export { CachingKeyValueStore } from './keyValueStore.js';
export { SegmentedWindowStore } from './windowStore.js';
export {
  CHECKPOINT_FILE,
  CorruptCheckpointError,
  checkpointKey,
  checkpointPath,
  deleteCheckpoint,
  parseCheckpointKey,
  readCheckpoint,
  writeCheckpoint,
} from './checkpoint.js';
