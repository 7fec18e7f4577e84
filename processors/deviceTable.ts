/**
 * The device table: a global store (`StoreNames.devices`, every instance holds every device) built
 * from `device-signals` (key deviceId, value DeviceSignal) and read by enrichment by `txn.deviceId`.
 *
 * A global store is updated by its own task, out of step with the stream tasks' event time: when a
 * transaction is enriched, the store may already hold signals stamped after it, and on a replay
 * (global topics are read to their end before any stream task starts) it holds all of them. So the
 * profile keeps enough history to be read *as of* an event time, and enrichment reads it that way:
 *  - first seen / last seen: earliest and latest signal event times;
 *  - flags (emulator, rooted, blocked) as runs of event time with the same flags, so "the flags of
 *    the latest signal at or before t" can be answered; the latest flags are also kept as fields;
 *  - distinct account tokens with the event time each was first seen on the device, so "how many
 *    accounts had used the device by t" can be answered.
 * A device first seen after t is unknown as of t.
 *
 * Bounds, so a device seen by a card-testing farm cannot grow without limit:
 *  - accounts: the `maxAccountsPerDevice` (default 50) tokens with the *earliest* first-seen times
 *    are kept. The count as of t is exact while fewer than that many accounts had used the device by
 *    t, and saturates at the bound after (`accountsSaturated` records that more were seen). Keeping
 *    the earliest (not the latest) is what keeps as-of counts exact, and makes the kept set the same
 *    whatever order the signals arrived in.
 *  - flag runs: the latest `maxFlagRuns` (default 32) are kept. For a t older than the oldest kept
 *    run (but after first seen) the oldest kept run's flags are used: an approximation that only a
 *    device flipping its flags more than 32 times can hit.
 * Runs are exact for signals that arrive in event-time order. A signal arriving out of order inside
 * an existing run splits it using the run's known end points only (signals in between were merged
 * into the run), so for such a device the flags between the late signal and the run's end follow the
 * late signal.
 *
 * Operational caveat (catalogue, not this file): `device-signals` is compacted, and a global store
 * is rebuilt by replaying its topic through this processor. After compaction only the latest signal
 * per device is left, so a rebuilt instance would see first seen = that signal and lose the history
 * above. The topic should be `delete` with a long retention, or this aggregation should move to a
 * sub-topology writing a compacted device-profile topic that the global store reads; the pure
 * `applyDeviceSignal` below is written so it can be reused for that.
 */
import { z } from 'zod';
import { Stores, type KeyValueStoreBuilder, type StoreOptions } from '../state/stores.js';
import type { KeyValueStore } from '../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { Serdes, type Serde } from '../topology/serde.js';
import type { TimestampExtractor, Topology } from '../topology/topology.js';
import type { DeviceSignal } from '../schemas/types.js';
import { StoreNames } from './types.js';

export const DeviceTableConfig = z.object({
  maxAccountsPerDevice: z.number().int().min(1).max(10_000).default(50),
  maxFlagRuns: z.number().int().min(1).max(1_000).default(32),
});
export type DeviceTableConfig = z.output<typeof DeviceTableConfig>;

export interface DeviceFlags {
  emulator: boolean;
  rooted: boolean;
  blocked: boolean;
}

/** Signals from `from` to `to` (event time, inclusive) all carried these flags. */
export interface FlagRun extends DeviceFlags {
  from: number;
  to: number;
}

export interface DeviceAccount {
  accountToken: string;
  firstSeenAt: number;
}

export interface DeviceProfile extends DeviceFlags {
  deviceId: string;
  firstSeenAt: number;
  lastSeenAt: number;
  /** Ordered by `from`; neighbours always differ in flags. */
  flagRuns: FlagRun[];
  /** Ordered by (firstSeenAt, accountToken); at most maxAccountsPerDevice. */
  accounts: DeviceAccount[];
  /** More distinct accounts were seen than `accounts` holds. */
  accountsSaturated: boolean;
}

/** What enrichment uses: the device as it was known at an event time. */
export interface DeviceAsOf extends DeviceFlags {
  firstSeenAt: number;
  accountsSeen: number;
}

function sameFlags(a: DeviceFlags, b: DeviceFlags): boolean {
  return a.emulator === b.emulator && a.rooted === b.rooted && a.blocked === b.blocked;
}

function flagsOf(f: DeviceFlags): DeviceFlags {
  return { emulator: f.emulator, rooted: f.rooted, blocked: f.blocked };
}

/** Index of the last run starting at or before t, or -1. */
function runAt(runs: readonly FlagRun[], t: number): number {
  for (let i = runs.length - 1; i >= 0; i--) if (runs[i]!.from <= t) return i;
  return -1;
}

function withFlagObservation(runs: readonly FlagRun[], at: number, flags: DeviceFlags, maxRuns: number): FlagRun[] {
  const out = runs.map((r) => ({ ...r }));
  const i = runAt(out, at);
  const run = i >= 0 ? out[i]! : undefined;
  if (run !== undefined && at <= run.to) {
    if (sameFlags(run, flags)) return out;
    // Inside a run with other flags: split it at its known end points.
    const pieces: FlagRun[] = [];
    if (run.from < at) pieces.push({ ...flagsOf(run), from: run.from, to: run.from });
    pieces.push({ ...flagsOf(flags), from: at, to: at });
    if (at < run.to) pieces.push({ ...flagsOf(run), from: run.to, to: run.to });
    out.splice(i, 1, ...pieces);
  } else {
    const next = out[i + 1];
    if (run !== undefined && sameFlags(run, flags)) run.to = at;
    else if (next !== undefined && sameFlags(next, flags)) next.from = at;
    else out.splice(i + 1, 0, { ...flagsOf(flags), from: at, to: at });
  }
  // A split at a run's end point, or a second signal at the same time, can leave equal neighbours.
  const merged: FlagRun[] = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last !== undefined && sameFlags(last, r)) last.to = Math.max(last.to, r.to);
    else merged.push(r);
  }
  return merged.length > maxRuns ? merged.slice(merged.length - maxRuns) : merged;
}

function accountOrder(a: DeviceAccount, b: DeviceAccount): number {
  if (a.firstSeenAt !== b.firstSeenAt) return a.firstSeenAt - b.firstSeenAt;
  return a.accountToken < b.accountToken ? -1 : a.accountToken > b.accountToken ? 1 : 0;
}

function withAccount(profile: DeviceProfile | undefined, accountToken: string, at: number, maxAccounts: number): { accounts: DeviceAccount[]; saturated: boolean } {
  const accounts = profile ? [...profile.accounts] : [];
  let saturated = profile?.accountsSaturated ?? false;
  const known = accounts.findIndex((a) => a.accountToken === accountToken);
  if (known >= 0) {
    if (at < accounts[known]!.firstSeenAt) accounts[known] = { accountToken, firstSeenAt: at };
  } else {
    const candidate = { accountToken, firstSeenAt: at };
    if (accounts.length < maxAccounts) {
      accounts.push(candidate);
    } else {
      saturated = true;
      // Keep the earliest first-seen tokens (see the file comment): replace the latest if this one is earlier.
      if (accountOrder(candidate, accounts[accounts.length - 1]!) < 0) accounts[accounts.length - 1] = candidate;
    }
  }
  accounts.sort(accountOrder);
  return { accounts, saturated };
}

/** Folds one signal into a device's profile (or starts one); returns a new object. */
export function applyDeviceSignal(profile: DeviceProfile | undefined, deviceId: string, signal: DeviceSignal, config: DeviceTableConfig): DeviceProfile {
  const at = signal.eventTime;
  const flagRuns = withFlagObservation(profile?.flagRuns ?? [], at, signal, config.maxFlagRuns);
  const { accounts, saturated } =
    signal.accountToken === null
      ? { accounts: profile?.accounts ?? [], saturated: profile?.accountsSaturated ?? false }
      : withAccount(profile, signal.accountToken, at, config.maxAccountsPerDevice);
  const latest = flagRuns[flagRuns.length - 1]!;
  return {
    deviceId,
    firstSeenAt: profile === undefined ? at : Math.min(profile.firstSeenAt, at),
    lastSeenAt: profile === undefined ? at : Math.max(profile.lastSeenAt, at),
    ...flagsOf(latest),
    flagRuns,
    accounts,
    accountsSaturated: saturated,
  };
}

/** The device as known at event time t; undefined if it had not been seen by then. */
export function deviceAsOf(profile: DeviceProfile, t: number): DeviceAsOf | undefined {
  if (profile.firstSeenAt > t) return undefined;
  const runs = profile.flagRuns;
  const run = runs[Math.max(runAt(runs, t), 0)];
  let accountsSeen = 0;
  for (const a of profile.accounts) if (a.firstSeenAt <= t) accountsSeen++;
  return { firstSeenAt: profile.firstSeenAt, ...(run ? flagsOf(run) : flagsOf(profile)), accountsSeen };
}

/** Global stores are never logged (their topic is their changelog); `logged` is forced off. */
export function deviceStore(options: Omit<StoreOptions, 'logged'> = {}): KeyValueStoreBuilder<string, DeviceProfile> {
  return Stores.keyValue(StoreNames.devices, Serdes.String, Serdes.Json<DeviceProfile>(), { ...options, logged: false });
}

export class DeviceTableProcessor implements Processor<string, DeviceSignal | null> {
  private context!: ProcessorContext<never, never>;
  private store!: KeyValueStore<string, DeviceProfile>;

  constructor(private readonly config: DeviceTableConfig) {}

  init(context: ProcessorContext<never, never>): void {
    this.context = context;
    this.store = context.getStateStore(StoreNames.devices);
  }

  process(record: Record<string, DeviceSignal | null>): void {
    if (record.key === null) {
      this.context.recordDropped('null-key');
      return;
    }
    if (record.value === null) {
      // A tombstone erases the device's history (an explicit erasure; the topic itself is a
      // delete-policy history, so nothing else produces one). Logged, so it is never silent.
      this.store.delete(record.key);
      this.context.logger.info({ event: 'device-deleted', offset: this.context.recordMetadata()?.offset ?? -1 }, 'device history deleted by a tombstone');
      return;
    }
    // Keyed by the record key, as compaction and the lookup by txn.deviceId are.
    this.store.put(record.key, applyDeviceSignal(this.store.get(record.key), record.key, record.value, this.config));
  }
}

export function deviceTableProcessor(config: DeviceTableConfig): ProcessorSupplier<string, DeviceSignal | null> {
  return () => new DeviceTableProcessor(config);
}

export interface AddDeviceTableOptions {
  topic: string;
  valueSerde: Serde<DeviceSignal>;
  config: DeviceTableConfig;
  timestampExtractor?: TimestampExtractor;
  /** Default 'device-signals-source'. */
  sourceName?: string;
  /** Default 'device-table'. */
  processorName?: string;
  storeOptions?: Omit<StoreOptions, 'logged'>;
}

export function addDeviceTable(topology: Topology, options: AddDeviceTableOptions): { sourceName: string; processorName: string } {
  const sourceName = options.sourceName ?? 'device-signals-source';
  const processorName = options.processorName ?? 'device-table';
  topology.addGlobalStore(
    deviceStore(options.storeOptions),
    sourceName,
    {
      keySerde: Serdes.String,
      valueSerde: options.valueSerde,
      ...(options.timestampExtractor ? { timestampExtractor: options.timestampExtractor } : {}),
    },
    options.topic,
    processorName,
    deviceTableProcessor(options.config),
  );
  return { sourceName, processorName };
}
