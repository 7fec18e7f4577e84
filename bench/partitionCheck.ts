/**
 * What the wrong-partition check (processors/partitionCheck.ts) costs a record that is on the right
 * partition — every record of a producer that follows docs/producers.md.
 *
 *   npx tsx bench/partitionCheck.ts     (no broker needed; writes bench/results/partition-check.json)
 *
 * Two measurements, in process:
 *  1. the check alone: `expectedPartition` (UTF-8 encode + murmur2 of a 35-byte account token) per
 *     call, over 2 M calls;
 *  2. ingress through the test driver on 6 partitions (source → ingress → sink, Avro decode,
 *     validation, tokenization), 30 000 correctly partitioned transactions per run, with and without
 *     the check, alternating A/B over 4 rounds: CPU-ms per 1 000 records (from /proc/self/stat) and
 *     records/s. The difference is compared with the spread between runs of the same variant.
 */
import pino from 'pino';
import { ingressProcessor } from '../processors/ingress.js';
import { MisroutedCounters, expectedPartition } from '../processors/partitionCheck.js';
import { Tokenizer } from '../processors/tokenizer.js';
import type { RiskContext } from '../processors/types.js';
import { avroType } from '../schemas/load.js';
import type { Transaction } from '../schemas/types.js';
import { Serdes } from '../topology/serde.js';
import { TopologyTestDriver } from '../topology/testDriver.js';
import { Topology } from '../topology/topology.js';
import { benchEnv, writeResult } from './loop/common.js';
import { processCpuMs } from './loop/procCpu.js';

const PARTITIONS = 6;
const RECORDS = 30_000;
const ROUNDS = 4;
const CALLS = 2_000_000;

const tokenizer = new Tokenizer({ accountTokenKey: '11'.repeat(32), cardKeys: [{ id: 'k1', key: '22'.repeat(32) }], currentCardKeyId: 'k1' });
const txnType = avroType('Transaction');
const serde = { serialize: (v: Transaction) => txnType.toBuffer(v), deserialize: (b: Buffer) => txnType.fromBuffer(b) as Transaction };

function transactions(): { key: Buffer; value: Buffer; timestamp: number; partition: number }[] {
  const t0 = Date.UTC(2026, 9, 1);
  return Array.from({ length: RECORDS }, (_, i) => {
    const accountId = `ACC-${i % 3000}`;
    const token = tokenizer.accountToken(accountId);
    const value: Transaction = {
      transactionId: `tx-${i}`, eventTime: t0 + i, accountId, pan: '4111111111111111', amountMinor: 1000 + (i % 500), currency: 'EUR',
      merchantId: `M-${i % 50}`, merchantName: 'Bakery', terminalId: null, mcc: '5411', merchantCountry: 'DE', channel: 'POS', cardPresent: true,
      threeDsAuthenticated: null, lat: null, lon: null, deviceId: null, ip: null,
    };
    return { key: Buffer.from(token), value: serde.serialize(value), timestamp: t0 + i, partition: expectedPartition(token, PARTITIONS) };
  });
}

async function ingressRun(withCheck: boolean, input: ReturnType<typeof transactions>): Promise<{ cpuMsPer1000: number; recordsPerSecond: number; rerouted: number }> {
  const counters = new MisroutedCounters();
  const t = new Topology({ applicationId: 'bench-partition-check' })
    .addSource('raw', 'raw', { keySerde: Serdes.String, valueSerde: serde })
    .addProcessor('ingress', ingressProcessor({}, { tokenizer, ...(withCheck ? { partitionCheck: { partitions: PARTITIONS, counters, rerouteChild: 'rerouted' } } : {}) }), 'raw')
    .addSink('out', 'out', { keySerde: Serdes.String, valueSerde: Serdes.Json<RiskContext>() }, 'ingress')
    .addSink('ingress-dead-letters', 'dead', { keySerde: Serdes.String, valueSerde: Serdes.Json<unknown>() }, 'ingress');
  if (withCheck) t.addSink('rerouted', 'rerouted', { keySerde: Serdes.String, valueSerde: Serdes.Json<unknown>() }, 'ingress');
  const driver = await TopologyTestDriver.create(t, { defaultPartitions: PARTITIONS, logger: pino({ level: 'silent' }), initialWallClockTimeMs: Date.UTC(2026, 9, 1) });
  try {
    const cpu0 = processCpuMs(process.pid);
    const t0 = performance.now();
    for (const r of input) await driver.pipeRaw('raw', r);
    const ms = performance.now() - t0;
    const cpu = processCpuMs(process.pid) - cpu0;
    if (driver.readRaw('out').length !== RECORDS) throw new Error('not every transaction came through');
    return { cpuMsPer1000: (cpu / RECORDS) * 1000, recordsPerSecond: (RECORDS / ms) * 1000, rerouted: counters.entries().reduce((s, [, n]) => s + n, 0) };
  } finally {
    await driver.close();
  }
}

async function main(): Promise<void> {
  const tokens = Array.from({ length: 10_000 }, (_, i) => tokenizer.accountToken(`ACC-${i}`));
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += expectedPartition(tokens[i % tokens.length]!, PARTITIONS);
  const c0 = performance.now();
  for (let i = 0; i < CALLS; i++) sink += expectedPartition(tokens[i % tokens.length]!, PARTITIONS);
  const nsPerCall = ((performance.now() - c0) * 1e6) / CALLS;

  const input = transactions();
  await ingressRun(true, input); // warm-up (JIT, Avro type caches)
  const runs: { with: Awaited<ReturnType<typeof ingressRun>>[]; without: Awaited<ReturnType<typeof ingressRun>>[] } = { with: [], without: [] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.without.push(await ingressRun(false, input));
    runs.with.push(await ingressRun(true, input));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const summary = (rs: typeof runs.with) => ({
    cpuMsPer1000Median: Number(median(rs.map((r) => r.cpuMsPer1000)).toFixed(1)),
    cpuMsPer1000Runs: rs.map((r) => Number(r.cpuMsPer1000.toFixed(1))),
    recordsPerSecondMedian: Math.round(median(rs.map((r) => r.recordsPerSecond))),
    rerouted: rs.reduce((s, r) => s + r.rerouted, 0),
  });
  const results = {
    checkAlone: { nsPerCall: Number(nsPerCall.toFixed(0)), cpuMsPer1000: Number(((nsPerCall * 1000) / 1e6).toFixed(3)) },
    ingressWithoutCheck: summary(runs.without),
    ingressWithCheck: summary(runs.with),
  };
  const out = writeResult(benchEnv(process.env), 'partition-check', { partitions: PARTITIONS, records: RECORDS, rounds: ROUNDS, calls: CALLS, checksum: sink % 7 }, results);
  console.log(JSON.stringify(out.results, null, 2));
}

await main();
