/**
 * The library's examples (examples/wordcount, examples/windowed) on the real broker, run as another
 * project would: they import only `riskloop/streams`. Also reads their stores through interactive
 * queries on the running KafkaStreams.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Serdes, type ValueAndTimestamp } from 'riskloop/streams';
import { startWordCount } from '../../examples/wordcount/wordcount.js';
import { MINUTE, cardMinuteSerde, startSpendPerMinute, type Payment } from '../../examples/windowed/spendPerMinute.js';
import { brokers, uniq } from '../support/env.js';
import { createTopics, produce, readTopic } from '../support/kafkaIo.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-examples-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('streams examples on the real broker', () => {
  it('word count: every new count goes out, the final counts are right, and the store answers interactive queries', async () => {
    const app = uniq('ex-wordcount');
    const input = `${app}-lines`;
    const output = `${app}-counts`;
    await createTopics(brokers(), [
      { topic: input, partitions: 2 },
      { topic: output, partitions: 2 },
    ]);
    const lines = ['the quick brown fox', 'jumps over the lazy dog', 'The dog barks', 'the end'];
    await produce(brokers(), input, lines.map((value, i) => ({ key: `line-${i}`, value })));
    const expected = new Map<string, number>();
    for (const w of lines.join(' ').toLowerCase().split(/\W+/)) expected.set(w, (expected.get(w) ?? 0) + 1);
    const words = [...expected.values()].reduce((a, b) => a + b, 0);

    const streams = startWordCount(brokers(), input, output, { applicationId: app, stateDir: stateRoot });
    await streams.start();
    try {
      const out = await readTopic(brokers(), output, { done: (r) => r.length >= words, timeoutMs: 90_000 });
      expect(out).toHaveLength(words);
      const last = new Map<string, number>();
      for (const r of [...out].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) last.set(r.keyBytes!.toString(), Serdes.Long.deserialize(r.value!));
      expect(last).toEqual(expected);

      // Interactive queries: the count store of the running instance (it owns every task here).
      await until(() => streams.state === 'RUNNING', 30_000);
      const counts = streams.keyValueStore<string, number>('word-counts');
      expect(counts.get('the')).toBe(4);
      expect(counts.get('dog')).toBe(2);
      expect(counts.get('missing')).toBeUndefined();
      expect(new Map([...counts.all()].map(({ key, value }) => [key, value]))).toEqual(expected);
      const meta = await streams.queryMetadataForKey('word-counts', 'the', Serdes.String);
      expect(meta).toMatchObject({ topic: `${app}-counts-repartition`, local: true });
      expect(meta.taskId).toBe(`1_${meta.partition}`);
    } finally {
      await streams.close();
    }
  });

  it('spend per card and minute: windowed totals on the output and in the window store', async () => {
    const app = uniq('ex-windowed');
    const input = `${app}-payments`;
    const output = `${app}-spend`;
    await createTopics(brokers(), [
      { topic: input, partitions: 3 },
      { topic: output, partitions: 3 },
    ]);
    const base = Date.UTC(2026, 11, 1, 12, 0, 0);
    const payments: Payment[] = [];
    for (let i = 0; i < 60; i++) payments.push({ card: `card-${i % 4}`, amount: 10 + i, at: base + i * 5_000 });
    await produce(brokers(), input, payments.map((p) => ({ key: p.card, value: JSON.stringify(p) })));
    const expected = new Map<string, number>();
    for (const p of payments) {
      const k = `${p.card}@${p.at - (p.at % MINUTE)}`;
      expected.set(k, (expected.get(k) ?? 0) + p.amount);
    }

    const streams = startSpendPerMinute(brokers(), input, output, { applicationId: app, stateDir: stateRoot });
    await streams.start();
    try {
      const out = await readTopic(brokers(), output, { done: (r) => r.length >= payments.length, timeoutMs: 90_000 });
      expect(out).toHaveLength(payments.length);
      const last = new Map<string, number>();
      for (const r of [...out].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
        const w = cardMinuteSerde.deserialize(r.keyBytes!);
        last.set(`${w.key}@${w.window.start}`, Serdes.Long.deserialize(r.value!));
      }
      expect(last).toEqual(expected);

      await until(() => streams.state === 'RUNNING', 30_000);
      const windows = streams.windowStore<string, ValueAndTimestamp<number>>('spend-per-minute');
      // The last minute (payment 59 of card-3 at +295 s); older windows leave the store once
      // stream time passes their end + grace + the store's retention (size + grace by default).
      const minute = base + 4 * MINUTE;
      expect(windows.fetch('card-3', minute)?.value).toBe(expected.get(`card-3@${minute}`));
      const held = [...windows.all()];
      expect(held.length).toBeGreaterThan(0);
      for (const { key, windowStart, value } of held) expect(value.value, `${key}@${windowStart}`).toBe(expected.get(`${key}@${windowStart}`));
    } finally {
      await streams.close();
    }
  });
});
