/**
 * The replay gate's window on the real broker: `readRecentByEventTime` reads only the tail of a
 * decisions topic (ListOffsets by time from the newest record timestamp), yet returns exactly the
 * rows of the last N days by event time, late (out-of-order) records within a day included.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { readRecentByEventTime } from '../../lifecycle/retrainer.js';
import { plaintextConnection } from '../../topology/kafka/connection.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { brokers, uniq } from '../support/env.js';
import { createTopics, produce } from '../support/kafkaIo.js';

const DAY = 86_400_000;

describe('reading the last days of a decisions topic', () => {
  it('returns the window by event time and reads only its tail, not the topic from the beginning', async () => {
    const topic = uniq('recent-decisions');
    await createTopics(brokers(), [{ topic, partitions: 3 }]);
    const end = Date.parse('2026-03-01T00:00:00Z');
    // 60 days, 200 rows a day, in event-time order as the loop writes them; every 97th row is a
    // day late (a decision out of event-time order: its record timestamp is its event time).
    type Row = { id: string; eventTime: number };
    const rows: Row[] = [];
    for (let i = 0; i < 60 * 200; i++) {
      const eventTime = end - 60 * DAY + Math.floor((i * DAY) / 200);
      rows.push({ id: `t${i}`, eventTime: i % 97 === 0 ? eventTime - 0.9 * DAY : eventTime });
    }
    await produce(
      brokers(),
      topic,
      rows.map((r, i) => ({ key: `k${i % 50}`, value: JSON.stringify(r), timestamp: String(r.eventTime), partition: i % 3 })),
    );
    const client = createKafkajsClient({ connection: plaintextConnection(brokers()), clientId: 'recent-decisions-test', logger: pino({ level: 'silent' }) });
    const { rows: got, read } = await readRecentByEventTime<Row>(client, topic, 7, async (values) => values.map((v) => JSON.parse(v.toString()) as Row));
    const newest = Math.max(...rows.map((r) => r.eventTime));
    const expected = rows.filter((r) => r.eventTime > newest - 7 * DAY).map((r) => r.id).sort();
    expect(got.map((r) => r.id).sort()).toEqual(expected);
    // The window (7 days) plus a day of slack, not 60 days: about 8/60 of the topic is decoded.
    expect(read).toBeLessThan(rows.length * (9 / 60));
    expect(read).toBeGreaterThanOrEqual(expected.length);
  });

  it('returns nothing for an empty or missing topic', async () => {
    const topic = uniq('recent-decisions-empty');
    const client = createKafkajsClient({ connection: plaintextConnection(brokers()), clientId: 'recent-decisions-test', logger: pino({ level: 'silent' }) });
    expect(await readRecentByEventTime(client, topic, 7, async () => [])).toEqual({ rows: [], read: 0 });
    await createTopics(brokers(), [{ topic, partitions: 2 }]);
    expect(await readRecentByEventTime(client, topic, 7, async () => [])).toEqual({ rows: [], read: 0 });
  });
});
