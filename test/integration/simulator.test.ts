/**
 * `riskloop simulate --kafka` against the real broker and schema registry: a small run into
 * catalogue topics with a unique prefix, read back through the Avro serdes, record for record;
 * then a paced run whose future-dated labels are held back.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { afterAll, describe, expect, it } from 'vitest';
import { simulateCommand } from '../../bin/commands/simulate.js';
import { accountTokenOf } from '../../processors/tokenizer.js';
import { buildCatalogue, type Catalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import { produceSimulation } from '../../simulator/sinks/kafka.js';
import { SIMULATED_TOPICS, simulate, type SimulatedTopic } from '../../simulator/simulate.js';
import { partitionForKey } from '../../topology/murmur2.js';
import { brokers, schemaRegistryUrl, uniq } from '../support/env.js';
import { createTopics, kafkaFor, readTopic, type ReadRecord } from '../support/kafkaIo.js';

const KEY_HEX = '3c'.repeat(32);
const keyFor = (id: string): string => accountTokenOf(Buffer.from(KEY_HEX, 'hex'), id);
const DAY = 86_400_000;
const created: string[] = [];

afterAll(async () => {
  if (created.length === 0) return;
  const admin = kafkaFor(brokers()).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: created }).catch(() => undefined);
  await admin.disconnect();
});

/**
 * The catalogue's topics under `prefix`, with its partition counts but unlimited retention: the
 * catalogue's retention (1 day on raw transactions) is judged by record timestamps, and a
 * retention check during the test could delete simulated history before it is read back.
 */
async function createCatalogue(prefix: string): Promise<Catalogue> {
  const catalogue = buildCatalogue({ prefix });
  const specs = SIMULATED_TOPICS.map((t) => catalogue[t]);
  await createTopics(
    brokers(),
    specs.map((spec) => ({ topic: spec.name, partitions: spec.partitions, config: { 'retention.ms': '-1' } })),
  );
  created.push(...specs.map((s) => s.name));
  return catalogue;
}

async function readAll(catalogue: Catalogue, counts: Record<SimulatedTopic, number>): Promise<Record<SimulatedTopic, ReadRecord[]>> {
  const entries = await Promise.all(
    SIMULATED_TOPICS.map(async (topic) => {
      const want = counts[topic];
      const records = await readTopic(brokers(), catalogue[topic].name, { done: (r) => r.length >= want, timeoutMs: 20_000 });
      return [topic, records] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<SimulatedTopic, ReadRecord[]>;
}

/** A start whose whole period lies in the past: the run ends at today's UTC midnight. */
const recentStart = (days: number): string => new Date(Math.floor(Date.now() / DAY) * DAY - days * DAY).toISOString();

describe('riskloop simulate --kafka', () => {
  it('produces every record to the catalogue topics, Avro-encoded, keyed and timestamped, on the murmur2 partition', async () => {
    const prefix = `${uniq('sim')}.`;
    const catalogue = await createCatalogue(prefix);
    // Ten days ending today with labels up to the end: every topic gets records, none in the future.
    const start = recentStart(10);
    const config = { seed: 12, customers: 60, days: 10, start, labelTailDays: 0, fraudScale: 10 };
    const out: string[] = [];
    const err: string[] = [];
    const code = await simulateCommand(
      ['--kafka', '--prefix', prefix, '--seed', '12', '--customers', '60', '--days', '10', '--start', start, '--label-tail-days', '0', '--fraud-scale', '10'],
      {
        out: (l) => out.push(l),
        err: (l) => err.push(l),
        env: { RISKLOOP_ACCOUNT_TOKEN_KEY: KEY_HEX, KAFKA_BROKERS: brokers().join(','), SCHEMA_REGISTRY_URL: schemaRegistryUrl() },
      },
    );
    expect(err).toEqual([]);
    expect(code).toBe(0);

    // The same config in-process gives the same records (determinism), so they are the expectation.
    const expected = simulate(config, { keyFor }).records;
    const counts = Object.fromEntries(SIMULATED_TOPICS.map((t) => [t, expected[t].length])) as Record<SimulatedTopic, number>;
    for (const topic of SIMULATED_TOPICS) expect(counts[topic], topic).toBeGreaterThan(0);
    for (const topic of SIMULATED_TOPICS) {
      expect(out.some((l) => l.startsWith(`produced ${String(counts[topic]).padStart(7)} to ${prefix}`))).toBe(true);
    }

    const got = await readAll(catalogue, counts);
    const serdes = await createSerdes(new SchemaRegistry({ host: schemaRegistryUrl() }), catalogue, { register: false });
    for (const topic of SIMULATED_TOPICS) {
      const records = got[topic];
      expect(records.length, topic).toBe(counts[topic]);
      const serde = serdes[topic];
      await serde.prefetch(records.map((r) => r.value!));
      // Per partition, offsets follow the production order, which is timestamp order.
      const byKeyAndTime = new Map(expected[topic].map((r) => [`${r.key}|${r.timestamp}|${JSON.stringify(r.value)}`, r]));
      for (const r of records) {
        const value = serde.deserialize(r.value!);
        const match = byKeyAndTime.get(`${r.key}|${r.timestamp}|${JSON.stringify(value)}`);
        expect(match, `${topic} record ${r.key}@${r.timestamp}`).toBeDefined();
        expect(r.partition).toBe(partitionForKey(Buffer.from(r.key!, 'utf8'), catalogue[topic].partitions));
      }
    }
  });

  it('paces to --rate and holds back labels dated beyond the broker clock', async () => {
    const prefix = `${uniq('sim-rate')}.`;
    const catalogue = await createCatalogue(prefix);
    // Ends today; chargebacks reach up to 120 days later, most of them in the future.
    const run = simulate({ seed: 21, customers: 40, days: 4, start: recentStart(4), fraudScale: 40 }, { keyFor });
    const startedAt = Date.now();
    const rate = 400;
    const report = await produceSimulation(run.records, { brokers: brokers(), registryUrl: schemaRegistryUrl(), catalogue, ratePerSecond: rate });
    const produced = SIMULATED_TOPICS.reduce((n, t) => n + report.produced[t], 0);
    for (const topic of SIMULATED_TOPICS) {
      expect(report.produced[topic] + report.heldBack[topic], topic).toBe(run.records[topic].length);
      // Nothing dated before the run started can have been held back (the limit is ~55 min ahead).
      const past = run.records[topic].filter((r) => r.timestamp <= startedAt).length;
      expect(report.produced[topic], topic).toBeGreaterThanOrEqual(past);
    }
    expect(report.heldBack.chargebacks).toBeGreaterThan(0);
    expect(report.heldBack.transactions).toBe(0);
    // rate 400/s: producing N records cannot take less than N / 400 seconds (batches of 20 sent early).
    expect(report.elapsedMs).toBeGreaterThanOrEqual(((produced - 20) / rate) * 1000);

    const got = await readAll(catalogue, report.produced);
    for (const topic of SIMULATED_TOPICS) {
      expect(got[topic].length, topic).toBe(report.produced[topic]);
      for (const r of got[topic]) expect(r.timestamp).toBeLessThanOrEqual(startedAt + 3_600_000);
    }
  });
});
