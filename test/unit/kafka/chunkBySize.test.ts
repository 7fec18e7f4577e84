/** Output of one poll is cut into requests that stay under the broker's message.max.bytes. */
import { describe, expect, it } from 'vitest';
import { chunkBySize } from '../../../topology/kafka/kafkajsClient.js';

describe('chunkBySize', () => {
  it('keeps order, keeps every record, and never exceeds the byte budget (unless one record alone does)', () => {
    const records = Array.from({ length: 1000 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(100 + (i % 50)) }));
    const chunks = chunkBySize(records, 10_000);
    expect(chunks.flat()).toEqual(records);
    for (const c of chunks) {
      const size = c.reduce((a, r) => a + r.key.length + r.value.length + 70, 0);
      expect(size).toBeLessThanOrEqual(10_000);
    }
    expect(chunks.length).toBeGreaterThanOrEqual(20); // ~199 kB of records in 10 kB chunks
    const big = [{ key: null, value: Buffer.alloc(50_000) }];
    expect(chunkBySize(big, 10_000)).toEqual([big]);
    expect(chunkBySize([], 10_000)).toEqual([]);
  });
});
