import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';

// patches/kafkajs+2.2.4.patch (applied by `npm ci`'s postinstall) changes how KafkaJS encodes
// produce requests: native CRC-32C, no zero-filled buffers, records and batches sized up front.
// These tests pin what must not change with it: the bytes on the wire. It also stops the request
// queue's idle 1 ms timer loop (kafkajs#1704); the last tests pin that waiting requests still go out.
const require = createRequire(import.meta.url);
type Encoder = { buffer: Buffer; offset: number };
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
const jsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C') as (b: Buffer) => number;
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: object) => Encoder;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (b: object) => Promise<Encoder> };
const Decoder = require('kafkajs/src/protocol/decoder') as new (bytes: Buffer) => unknown;
type Pushed = { entry: { correlationId: number; resolve: () => void; reject: () => void }; expectResponse: boolean; sendRequest: () => void };
type Queue = {
  push(r: Pushed): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number | null): void;
  destroy(): void;
  inflight: Map<number, unknown>;
  pending: unknown[];
  throttleCheckTimeoutId: unknown;
};
const RequestQueue = require('kafkajs/src/network/requestQueue') as new (o: object) => Queue;
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const RecordBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{ records: Array<{ key: Buffer; value: Buffer; headers: Record<string, Buffer> }> }>;

describe('the KafkaJS encoding patch', () => {
  it('is applied: the CRC comes from the native module and equals the standard CRC-32C', () => {
    expect(require.resolve('@node-rs/crc32')).toBeTruthy();
    // The standard check value of CRC-32C ("Castagnoli") for the ASCII digits 1..9.
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
    for (const length of [0, 1, 13, 511, 512, 4097, 70_000]) {
      const bytes = randomBytes(length);
      expect(crc32C(bytes)).toBe(jsCrc32C(bytes) >>> 0);
    }
    // The patched index must not be KafkaJS's own wrapper of the JS table loop.
    expect(String(crc32C)).not.toContain('unsigned(jsCrc32C');
  });

  it('encodes a record in exactly its own length, with no stray bytes', () => {
    const value = randomBytes(2_300);
    const record = Record({ offsetDelta: 3, timestampDelta: 17, key: Buffer.from('acct-token'), value, headers: { h: Buffer.from('x') } });
    const bytes = record.buffer;
    expect(bytes.length).toBe(record.offset);
    // Every byte is the record's: the value sits at the end, before the one header.
    expect(bytes.includes(value)).toBe(true);
  });

  it('round-trips a batch of mixed sizes through KafkaJS decoder with a valid CRC', async () => {
    const messages = [10, 600, 2_500, 9_000].map((size, i) => ({
      key: Buffer.from(`k${i}`),
      value: randomBytes(size),
      headers: { trace: Buffer.from(`t${i}`) },
    }));
    const records = messages.map((m, i) => Record({ ...m, offsetDelta: i, timestampDelta: i }));
    const batch = await RecordBatch({ records, firstTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_000_003 });
    const bytes = batch.buffer;
    expect(bytes.length).toBe(batch.offset);
    // Layout: firstOffset int64 | length int32 | bytes(partitionLeaderEpoch int32, magic int8, crc uint32, body).
    const length = bytes.readInt32BE(8);
    const crc = bytes.readUInt32BE(12 + 4 + 1);
    const body = bytes.subarray(12 + 9, 12 + length);
    expect(crc).toBe(jsCrc32C(body) >>> 0);
    const decoded = await RecordBatchDecoder(new Decoder(bytes));
    expect(decoded.records.map((r) => [r.key.toString(), r.value.length, r.headers.trace?.toString()])).toEqual(
      messages.map((m, i) => [`k${i}`, m.value.length, `t${i}`]),
    );
    decoded.records.forEach((r, i) => expect(r.value.equals(messages[i]!.value)).toBe(true));
  });
});

describe('the KafkaJS request-queue patch', () => {
  const queue = (maxInFlightRequests: number | null): Queue =>
    new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b', logger: silent });
  const request = (correlationId: number, sent: number[]): Pushed => ({
    entry: { correlationId, resolve: () => undefined, reject: () => undefined },
    expectResponse: true,
    sendRequest: () => void sent.push(correlationId),
  });

  it('leaves no timer behind once nothing waits (upstream re-armed a 1 ms check forever)', () => {
    const q = queue(null);
    const sent: number[] = [];
    q.push(request(1, sent));
    q.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    expect(sent).toEqual([1]);
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still sends a request that waited for the in-flight limit, and one that waited for a throttle', async () => {
    const q = queue(1);
    const sent: number[] = [];
    q.push(request(1, sent));
    q.push(request(2, sent));
    expect(sent).toEqual([1]);
    q.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    expect(sent).toEqual([1, 2]);
    q.fulfillRequest({ correlationId: 2, payload: Buffer.alloc(0), size: 0 });
    q.maybeThrottle(30);
    q.push(request(3, sent));
    expect(sent).toEqual([1, 2]);
    await new Promise((r) => setTimeout(r, 80));
    expect(sent).toEqual([1, 2, 3]);
    q.destroy();
  });
});
