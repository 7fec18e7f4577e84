/**
 * docs/producers.md's test vectors are what the loop's own code computes: the account token
 * (processors/tokenizer.ts), Kafka's murmur2 and partition (topology/murmur2.ts), and the partition
 * librdkafka's default (CRC32) would pick instead. Also: the key the loop checks at ingress is that
 * token, and the partition check expects that partition.
 */
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { expectedPartition } from '../../../processors/partitionCheck.js';
import { Tokenizer, accountTokenOf } from '../../../processors/tokenizer.js';
import { murmur2, partitionForKey } from '../../../topology/murmur2.js';

const KEY_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

interface Vector {
  accountId: string;
  token: string;
  murmur2: number;
  of6: number;
  of12: number;
  crc32Of6: number;
}

function vectorsOfPage(): Vector[] {
  const page = readFileSync('docs/producers.md', 'utf8');
  const block = /<!-- vectors:start -->([\s\S]*?)<!-- vectors:end -->/.exec(page)?.[1];
  if (block === undefined) throw new Error('docs/producers.md has no vectors block');
  const rows = block.split('\n').filter((l) => l.startsWith('| `'));
  return rows.map((row) => {
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    const code = (c: string) => /^`(.*)`$/.exec(c)![1]!;
    return { accountId: code(cells[0]!), token: code(cells[1]!), murmur2: Number(cells[2]), of6: Number(cells[3]), of12: Number(cells[4]), crc32Of6: Number(cells[5]) };
  });
}

describe('producer contract page (docs/producers.md)', () => {
  const vectors = vectorsOfPage();

  it('has vectors, and states the key they were made with', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(5);
    expect(readFileSync('docs/producers.md', 'utf8')).toContain(KEY_HEX);
  });

  it.each(vectorsOfPage().map((v) => [v.accountId, v] as const))('%s: token, murmur2 and partitions are what the loop computes', (_id, v) => {
    const key = Buffer.from(KEY_HEX, 'hex');
    expect(accountTokenOf(key, v.accountId)).toBe(v.token);
    // The tokenizer configured with the same key as hex (how operators give it) agrees.
    const tokenizer = new Tokenizer({ accountTokenKey: KEY_HEX, cardKeys: [{ id: 'k1', key: 'ff'.repeat(32) }], currentCardKeyId: 'k1' });
    expect(tokenizer.accountToken(v.accountId)).toBe(v.token);
    const bytes = Buffer.from(v.token, 'utf8');
    expect(murmur2(bytes)).toBe(v.murmur2);
    expect(partitionForKey(bytes, 6)).toBe(v.of6);
    expect(partitionForKey(bytes, 12)).toBe(v.of12);
    expect(expectedPartition(v.token, 6)).toBe(v.of6);
    expect((crc32(bytes) >>> 0) % 6).toBe(v.crc32Of6);
  });

  it('the vectors show the default librdkafka partitioner disagreeing with murmur2 for most keys', () => {
    expect(vectors.filter((v) => v.crc32Of6 !== v.of6).length).toBeGreaterThanOrEqual(3);
  });
});
