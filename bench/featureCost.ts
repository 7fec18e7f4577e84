/**
 * What each feature kind of a feature set (processors/featureSet/) costs per transaction in the
 * hot path, in-process (no broker, no serialization per record: the velocity store caches values
 * and writes each profile once per commit). Runs the velocity step and the cross-entity step on
 * seeded traffic (300 accounts, 2 cards each, ~8 transactions a day for 60 days, 40 merchants)
 * and times the second half (profiles and merchant series full; CPU time, best of interleaved
 * rounds) for a ladder of declarations:
 * the pre-16 features, then one kind added at a time, then the shipped default set. Also reports
 * the state each set keeps: profile JSON bytes per account (what the changelog and RocksDB hold).
 *
 *   bash stack/node.sh npx tsx bench/featureCost.ts [--tx 60000] [--runs 5] [--archive-batch 7]
 *
 * Figures go to docs/features.md by hand (this machine's numbers are not a spec).
 */
import { parseArgs } from 'node:util';
import { CrossEntityConfig, type EntityStats, applyFraudLabel, applyTransaction, emptyStats } from '../processors/crossEntity/buckets.js';
import { CrossEntityFeaturesProcessor } from '../processors/crossEntity/features.js';
import { type FeatureSet, type FeatureSetDeclarationInput, compileFeatureSet, defaultFeatureSet } from '../processors/featureSet/declaration.js';
import { Tokenizer } from '../processors/tokenizer.js';
import { type RiskContext, newRiskContext } from '../processors/types.js';
import { isArchiveKey } from '../processors/velocity/profile.js';
import { type VelocityEntry, VelocityFeaturesProcessor } from '../processors/velocityFeatures.js';
import { EXAMPLES } from '../schemas/examples.js';
import type { TokenizedTransaction } from '../schemas/types.js';
import type { KeyValueStore } from '../state/types.js';
import type { ProcessorContext } from '../topology/processor.js';
import { Serdes } from '../topology/serde.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const { values } = parseArgs({
  options: { tx: { type: 'string', default: '60000' }, runs: { type: 'string', default: '5' }, 'archive-batch': { type: 'string', default: '7' } },
});
const N = Number(values.tx);
const RUNS = Number(values.runs);
/** The velocity archive's batch (days); 90 keeps every day in the profile with windows ≤ 89 days, as before the archive. */
const VELOCITY = { archiveBatchDays: Number(values['archive-batch']) };

const PRE_16: FeatureSetDeclarationInput = {
  version: 'pre-16',
  card: { aggregates: [{ of: ['count', 'sum'], windows: ['1m', '1h', '24h', '7d'] }], secsSincePrev: true },
  account: {
    aggregates: [
      { of: ['count', 'sum'], windows: ['1m', '1h', '24h', '7d'] },
      { of: ['distinct_merchants', 'distinct_countries'], windows: ['24h'] },
    ],
    secsSincePrev: true,
    amountZscore: [{ window: '30d' }],
    travel: true,
  },
  device: { aggregates: [{ of: ['count', 'sum'], windows: ['1m', '1h', '24h', '7d'] }], distinctAccounts: ['24h'] },
  ip: { aggregates: [{ of: ['count', 'sum'], windows: ['1m', '1h', '24h', '7d'] }], distinctAccounts: ['24h'] },
  merchant: {
    aggregates: [{ of: ['count', 'sum'], windows: ['1m', '1h', '24h', '7d'] }],
    fraud: [
      { measure: 'count', window: '90d', by: 'arrival' },
      { measure: 'rate', window: '30d', by: 'arrival' },
      { measure: 'rate', window: '90d', by: 'arrival' },
    ],
  },
};

type Decl = Omit<FeatureSetDeclarationInput, 'version'>;
const plus = (name: string, change: (d: Decl) => Decl): { name: string; decl: FeatureSetDeclarationInput } => ({
  name,
  decl: { ...change(structuredClone(PRE_16)), version: 'ladder' },
});
const withAgg = (entity: 'card' | 'account', of: string[], windows: string[]) => (d: Decl): Decl => {
  const e = d[entity]!;
  e.aggregates = [...(e.aggregates ?? []), { of: of as never, windows }];
  return d;
};

const LADDER: { name: string; set: FeatureSet }[] = [
  { name: 'pre-16 (the features before issue 16)', decl: PRE_16 },
  plus('+ card/account count,sum 30d (day-aligned)', (d) => withAgg('account', ['count', 'sum'], ['30d'])(withAgg('card', ['count', 'sum'], ['30d'])(d))),
  plus('+ card/account mean,max 24h/7d (exact)', (d) => withAgg('account', ['mean', 'max'], ['24h', '7d'])(withAgg('card', ['mean', 'max'], ['24h', '7d'])(d))),
  plus('+ card/account mean,max 30d (day-aligned)', (d) => withAgg('account', ['mean', 'max'], ['30d'])(withAgg('card', ['mean', 'max'], ['30d'])(d))),
  plus('+ account distinct merchants,countries 30d (day sets)', (d) => withAgg('account', ['distinct_merchants', 'distinct_countries'], ['30d'])(d)),
  plus('+ card/account count,sum 90d (day-aligned, 90 d state)', (d) => withAgg('account', ['count', 'sum'], ['90d'])(withAgg('card', ['count', 'sum'], ['90d'])(d))),
  plus('+ card z-score 30d gap 1d (per-card day stats)', (d) => {
    d.card!.amountZscore = [{ window: '30d', gapDays: 1 }];
    return d;
  }),
  plus('+ merchant count,sum,mean 30d + fraud by txn day', (d) => {
    d.merchant!.aggregates = [...(d.merchant!.aggregates ?? []), { of: ['count', 'sum', 'mean'], windows: ['30d'] }];
    d.merchant!.fraud = [...(d.merchant!.fraud ?? []), { measure: 'count', window: '30d', by: 'transaction' }, { measure: 'rate', window: '30d', by: 'transaction' }, { measure: 'rate', window: '90d', by: 'transaction' }];
    return d;
  }),
  plus('+ 10 ratios (over declared features)', (d) => {
    const w = withAgg('account', ['mean'], ['24h', '7d', '30d'])(withAgg('card', ['mean'], ['24h', '7d', '30d'])(withAgg('account', ['count', 'sum'], ['30d'])(withAgg('card', ['count', 'sum'], ['30d'])(d))));
    w.ratios = ['card', 'account'].flatMap((e) => [
      ...['24h', '7d', '30d'].map((x) => ({ name: `${e}.amount_to_mean_${x}`, numerator: 'txn.amount_minor', denominator: `${e}.mean_${x}` })),
      { name: `${e}.count_24h_to_30d`, numerator: `${e}.count_24h`, denominator: `${e}.count_30d` },
      { name: `${e}.sum_7d_to_30d`, numerator: `${e}.sum_7d`, denominator: `${e}.sum_30d` },
    ]);
    return w;
  }),
].map((x) => ({ name: x.name, set: compileFeatureSet(x.decl, x.name) }));
LADDER.push({ name: 'default-2 (features/default.json)', set: defaultFeatureSet() });

// ---- traffic ----
const tokenizer = new Tokenizer({ accountTokenKey: 'aa'.repeat(32), cardKeys: [{ id: 'k1', key: Buffer.alloc(32, 3).toString('base64') }], currentCardKeyId: 'k1' });
let seed = 20261203;
const rnd = (): number => {
  seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
  return seed / 2 ** 32;
};
const ACCOUNTS = 300;
const START = Date.UTC(2026, 5, 1);
const SPAN = 60 * DAY;
const traffic: TokenizedTransaction[] = [];
for (let i = 0; i < N; i++) {
  const a = Math.floor(rnd() * ACCOUNTS);
  traffic.push({
    ...EXAMPLES.TokenizedTransaction,
    transactionId: `t${i}`,
    eventTime: START + Math.floor((i / N) * SPAN + rnd() * HOUR),
    accountToken: tokenizer.accountToken(`ACC-${a}`),
    cardToken: `ct_${a}_${rnd() < 0.8 ? 0 : 1}`,
    amountMinor: 100 + Math.floor(rnd() * 30_000),
    merchantId: `M-${Math.floor(rnd() ** 2 * 40)}`,
    merchantCountry: rnd() < 0.9 ? 'DE' : 'FR',
    lat: 52 + rnd(),
    lon: 13 + rnd(),
    deviceId: rnd() < 0.5 ? `dev-${a}` : null,
    ip: rnd() < 0.5 ? `10.0.${a % 50}.1` : null,
  });
}

class MapStore<V> {
  readonly map = new Map<string, V>();
  /** Called on every put (the bytes-written pass serializes there; the timed passes leave it unset). */
  onPut: ((k: string, v: V) => void) | undefined;
  get(k: string): V | undefined {
    return this.map.get(k);
  }
  put(k: string, v: V): void {
    this.onPut?.(k, v);
    this.map.set(k, v);
  }
  delete(k: string): V | undefined {
    const v = this.map.get(k);
    this.map.delete(k);
    return v;
  }
  *all(): Iterable<{ key: string; value: V }> {
    for (const [key, value] of this.map) yield { key, value };
  }
}

function fakeContext(stores: { [name: string]: unknown }, now: () => number): ProcessorContext<string, RiskContext> {
  return {
    getStateStore: (name: string) => stores[name],
    schedule: () => ({ cancel: () => undefined }),
    forward: () => undefined,
    recordDropped: () => undefined,
    currentStreamTimeMs: now,
  } as unknown as ProcessorContext<string, RiskContext>;
}

/** Entity series as the side sub-topology would have built them by the end (what the global table holds). */
function entityTable(): MapStore<EntityStats> {
  const config = CrossEntityConfig.parse({ retainAll: true });
  const table = new MapStore<EntityStats>();
  for (const x of traffic) {
    for (const key of [x.deviceId ? `device:${x.deviceId}` : null, x.ip ? `ip:${tokenizer.identifierPseudonym(`ip|${x.ip}`)}` : null, `merchant:${x.merchantId}`]) {
      if (key === null) continue;
      const s = table.get(key) ?? emptyStats(key);
      applyTransaction(s, x, !key.startsWith('merchant:'), config);
      if (key.startsWith('merchant:') && rnd() < 0.01) applyFraudLabel(s, x.eventTime + 7 * DAY, 1, config, x.eventTime);
      table.put(key, s);
    }
  }
  return table;
}
const table = entityTable();

interface Figures {
  velocityUs: number;
  crossUs: number;
  profileBytes: number;
  features: number;
}

/**
 * MessagePack bytes the velocity store is given per transaction over the second half (profile and
 * archive puts, each serialized as the store does at a flush), untimed. An upper bound of what is
 * serialized and written to RocksDB and the changelog: the write-back cache merges puts of one
 * account between two commits, which at ~1.7 transactions per account-day is rare.
 */
function bytesWritten(set: FeatureSet): { profile: number; archive: number } {
  const profiles = new MapStore<VelocityEntry>();
  const serde = Serdes.Packed<VelocityEntry>();
  let now = 0;
  const velocity = new VelocityFeaturesProcessor(VELOCITY, set);
  velocity.init(fakeContext({ 'velocity-profiles': profiles }, () => now));
  const half = Math.floor(traffic.length / 2);
  const out = { profile: 0, archive: 0 };
  traffic.forEach((x, i) => {
    if (i === half) profiles.onPut = (k, v) => void (out[isArchiveKey(k) ? 'archive' : 'profile'] += serde.serialize(v).length);
    now = Math.max(now, x.eventTime);
    velocity.process({ key: x.accountToken, value: newRiskContext(x, 0), timestamp: now, headers: {} });
  });
  const n = traffic.length - half;
  return { profile: out.profile / n, archive: out.archive / n };
}

function measureOnce(set: FeatureSet): Figures {
  const profiles = new MapStore<VelocityEntry>();
  let now = 0;
  const velocity = new VelocityFeaturesProcessor(VELOCITY, set);
  velocity.init(fakeContext({ 'velocity-profiles': profiles }, () => now));
  const cross = new CrossEntityFeaturesProcessor(tokenizer, CrossEntityConfig.parse({}), set);
  cross.init(fakeContext({ 'entity-stats': table as unknown as KeyValueStore<string, EntityStats> }, () => now));
  const half = Math.floor(traffic.length / 2);
  const contexts = traffic.map((x) => newRiskContext(x, 0));
  // Enrichment's amount (a ratio's numerator) is there when cross-entity runs.
  for (const c of contexts) c.features['txn.amount_minor'] = c.txn.amountMinor;
  for (let i = 0; i < half; i++) {
    now = Math.max(now, traffic[i]!.eventTime);
    velocity.process({ key: traffic[i]!.accountToken, value: contexts[i]!, timestamp: now, headers: {} });
  }
  // CPU time (user + system) of this process, not wall time: the machine is shared.
  const cpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const records = traffic.slice(half).map((x, i) => ({ key: x.accountToken, value: contexts[half + i]!, timestamp: x.eventTime, headers: {} }));
  const t0 = cpu();
  for (const record of records) {
    now = Math.max(now, record.timestamp);
    velocity.process(record);
  }
  const t1 = cpu();
  for (const record of records) cross.process(record);
  const t2 = cpu();
  const n = records.length;
  // What an account keeps: its profile and, if it has one, its archive.
  let bytes = 0;
  for (const p of profiles.map.values()) bytes += JSON.stringify(p).length;
  const accounts = [...profiles.map.keys()].filter((k) => !isArchiveKey(k)).length;
  return {
    velocityUs: (t1 - t0) / n,
    crossUs: (t2 - t1) / n,
    profileBytes: bytes / accounts,
    features: records.reduce((s, r) => s + Object.keys(r.value.features).length, 0) / n,
  };
}

console.log(`feature cost per transaction: ${N} transactions, ${ACCOUNTS} accounts, 60 days; CPU time over the second half, best of ${RUNS} interleaved runs; node ${process.version}`);
// Interleaved (every set once per round) and the best round kept: contention on a shared machine only ever adds time.
const best: (Figures | undefined)[] = LADDER.map(() => undefined);
for (let run = 0; run < RUNS; run++) {
  LADDER.forEach(({ set }, i) => {
    const r = measureOnce(set);
    const b = best[i];
    best[i] = b === undefined ? r : { ...r, velocityUs: Math.min(b.velocityUs, r.velocityUs), crossUs: Math.min(b.crossUs, r.crossUs) };
  });
}
console.log('| set | features written | velocity µs/txn | cross-entity + ratios µs/txn | profile bytes/account | packed bytes put/txn: profile + archive |');
console.log('|---|---|---|---|---|---|');
LADDER.forEach(({ name, set }, i) => {
  const r = best[i]!;
  const w = bytesWritten(set);
  console.log(`| ${name} | ${r.features.toFixed(1)} | ${r.velocityUs.toFixed(1)} | ${r.crossUs.toFixed(1)} | ${Math.round(r.profileBytes)} | ${Math.round(w.profile)} + ${Math.round(w.archive)} |`);
});
