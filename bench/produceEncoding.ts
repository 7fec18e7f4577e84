/**
 * CPU per record of KafkaJS's produce-request encoding, in-process (no broker): the part of every
 * decision, changelog and repartition record that the loop pays inside KafkaJS (record and batch
 * encoders, CRC-32C, the request's nested encoders). Encodes produce requests shaped like the
 * loop's (6 partitions, records of the given sizes: ~2.2 KB decisions, ~1 KB changelog values,
 * ~250 B repartition records) and reports CPU µs per record, best of interleaved rounds.
 *
 * It measures whichever KafkaJS `node_modules` it runs against, so running it from a tree without
 * patches/kafkajs+2.2.4.patch applied gives the before figure:
 *
 *   bash stack/node.sh npx tsx bench/produceEncoding.ts [--records 200000] [--runs 5]
 *
 * Writes bench/results/produce-encoding.json (BENCH_RESULTS_DIR overrides the folder).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
interface Encoder { buffer: Buffer }
interface ProduceMessage { key: Buffer; value: Buffer; timestamp: string; headers: Record<string, Buffer> }
// KafkaJS's internal request module: the same code path Producer.send takes for API version 3+.
const { request: produceV3 } = { request: require('kafkajs/src/protocol/requests/produce/v3/request') as (args: object) => { encode: () => Promise<Encoder> } };

const { values } = parseArgs({ options: { records: { type: 'string', default: '200000' }, runs: { type: 'string', default: '5' } } });
const TOTAL = Number(values.records);
const RUNS = Number(values.runs);
const PARTITIONS = 6;
const PER_REQUEST = 600;

const shapes = { decision: 2_200, changelog: 1_000, repartition: 250 } as const;

function request(size: number, seed: number) {
  const perPartition = PER_REQUEST / PARTITIONS;
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({
    partition,
    firstSequence: 0,
    messages: Array.from({ length: perPartition }, (_, i): ProduceMessage => ({
      key: Buffer.from(`acct_${seed}_${partition}_${i}`),
      value: randomBytes(size),
      timestamp: String(1_700_000_000_000 + i),
      headers: { 'riskloop-trace': Buffer.from('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01') },
    })),
  }));
  return { acks: -1, timeout: 30_000, producerId: 1, producerEpoch: 0, topicData: [{ topic: 'riskloop.decisions', partitions }] };
}

async function cpuPerRecord(size: number): Promise<number> {
  const requests = Array.from({ length: 4 }, (_, i) => request(size, i));
  const rounds = Math.max(1, Math.round(TOTAL / PER_REQUEST / requests.length));
  const start = process.cpuUsage();
  for (let r = 0; r < rounds; r++) for (const args of requests) await (await produceV3(args).encode()).buffer;
  const used = process.cpuUsage(start);
  return (used.user + used.system) / (rounds * requests.length * PER_REQUEST);
}

const best: Record<string, number> = {};
for (let run = 0; run < RUNS; run++) {
  for (const [name, size] of Object.entries(shapes)) {
    const us = await cpuPerRecord(size);
    best[name] = Math.min(best[name] ?? Infinity, us);
  }
}
const kafkajsPatched = (require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as { toString(): string }).toString().includes('nativeCrc32c');
const result = {
  benchmark: 'produce-encoding',
  at: new Date().toISOString(),
  kafkajsPatched,
  cpuMicrosecondsPerRecord: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Number(v.toFixed(2))])),
  recordBytes: shapes,
  records: TOTAL,
  runs: RUNS,
  loadAverage: (await import('node:os')).loadavg()[0],
};
const dir = process.env.BENCH_RESULTS_DIR ?? join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'produce-encoding.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
