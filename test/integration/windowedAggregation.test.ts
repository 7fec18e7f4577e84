/**
 * A DSL topology on the real broker: 100k payments on 6 partitions, re-keyed by card (through the
 * internal repartition topic) and summed per card and hour, under exactly_once. The last value of
 * every (card, hour) on the output must equal the total computed here from the input.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaStreams } from '../../topology/kafka/kafkaStreams.js';
import { Consumed, Materialized, Produced, Serdes, StreamsBuilder, TimeWindows, timeWindowedSerde } from '../../topology/index.js';
import { brokers, uniq } from '../support/env.js';
import { createTopics, produce, readTopic } from '../support/kafkaIo.js';

interface Payment {
  card: string;
  amountCents: number;
  eventTime: number;
}

const HOUR = 3_600_000;
const N = 100_000;
const CARDS = 500;
const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-window-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));

describe('windowed aggregation on the real broker', () => {
  it(`sums ${N} payments per card and hour on 6 partitions exactly (exactly_once, via repartition)`, async () => {
    const appId = uniq('rt-window');
    const input = `${appId}-payments`;
    const output = `${appId}-hourly`;
    await createTopics(brokers(), [
      { topic: input, partitions: 6 },
      { topic: output, partitions: 6 },
    ]);
    const base = Date.UTC(2026, 10, 1, 0, 0, 0);
    const expected = new Map<string, number>();
    const messages = [];
    for (let i = 0; i < N; i++) {
      // Deterministic pseudo-random card, amount and a jitter of up to a minute around a 200 ms cadence.
      const card = `card-${(i * 7919) % CARDS}`;
      const amountCents = ((i * 104729) % 9973) + 1;
      const eventTime = base + i * 200 + ((i * 31) % 60_000);
      const hour = eventTime - (eventTime % HOUR);
      const k = `${card}@${hour}`;
      expected.set(k, (expected.get(k) ?? 0) + amountCents);
      messages.push({ key: `tx-${i}`, value: JSON.stringify({ card, amountCents, eventTime } satisfies Payment) });
    }
    await produce(brokers(), input, messages, 5000);

    const builder = new StreamsBuilder();
    builder
      .stream(input, Consumed.with(Serdes.String, Serdes.Json<Payment>(), { timestampExtractor: (r) => (r.value as Payment).eventTime }))
      .groupBy((_tx, p) => p.card, { keySerde: Serdes.String, name: 'by-card' })
      // Grace spans the whole run: this test is about exactness, not lateness, and upstream tasks
      // may be hours of event time apart while the first of them races ahead.
      .windowedBy(TimeWindows.ofSizeWithGrace(HOUR, 7 * 24 * HOUR))
      .aggregate(() => 0, (_card, p, total) => total + p.amountCents, Materialized.as<string, number>('spend-per-hour').withValueSerde(Serdes.Long))
      .toStream()
      .to(output, Produced.with(timeWindowedSerde(Serdes.String, HOUR), Serdes.Long));
    const topology = builder.build({ applicationId: appId });
    const streams = new KafkaStreams(
      topology,
      { applicationId: appId, brokers: brokers(), processingGuarantee: 'exactly_once', stateDir: stateRoot },
      { logger: pino({ level: 'warn' }) },
    );
    await streams.start();
    let out;
    try {
      out = await readTopic(brokers(), output, { done: (r) => r.length >= N, timeoutMs: 170_000 });
    } finally {
      await streams.close();
    }
    expect(out.length).toBe(N);
    const keySerde = timeWindowedSerde(Serdes.String, HOUR);
    // Each (card, hour) lives on one partition, where output order is processing order: the last wins.
    const last = new Map<string, number>();
    for (const r of [...out].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
      const w = keySerde.deserialize(r.keyBytes!);
      last.set(`${w.key}@${w.window.start}`, Serdes.Long.deserialize(r.value!));
    }
    expect(last.size).toBe(expected.size);
    for (const [k, total] of expected) expect(last.get(k), k).toBe(total);
  });
});
