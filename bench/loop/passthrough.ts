/**
 * `passthrough`: raw kafkajs consume → produce of the simulated transactions topic (same topic
 * shape, partition count and record sizes as the loop reads), no decoding, no processing. It is
 * the client's own limit on this machine and the yardstick the loop modes are divided by.
 * Measured after a warm-up of W records, up to N: (N − W) / (t(N) − t(W)).
 */
import { chunkBySize } from '../../topology/kafka/kafkajsClient.js';
import { type BenchEnv, createLoopTopics, dropRun, kafkaClient, loopRun, produceParts, simulateFor, writeResult } from './common.js';

export interface ThroughputResult {
  records: number;
  warmupRecords: number;
  measuredRecords: number;
  seconds: number;
  recordsPerSec: number;
}

export async function passthrough(env: BenchEnv, opts: { customers: number; days: number; warmup: number }): Promise<ThroughputResult> {
  const run = loopRun(env, 'pass', 'at_least_once');
  await createLoopTopics(env, run);
  const records = simulateFor(run, { customers: opts.customers, days: opts.days });
  await produceParts(env, run, records, ['transactions']);
  const N = records.transactions.length;
  const input = run.catalogue.transactions.name;
  const output = `${run.id}-passthrough-out`;
  const kafka = kafkaClient(env, 'riskloop-bench-passthrough');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: output, numPartitions: env.partitions, replicationFactor: 1 }] });
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `${run.id}-passthrough`, maxWaitTimeInMs: 50 });
  const producer = kafka.producer({ idempotent: true });
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let count = 0;
  let tWarm = 0;
  let tEnd = 0;
  let warmCount = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: true,
      eachBatch: async ({ batch }) => {
        // The same request-size cut the runtime makes: a whole fetched batch can exceed message.max.bytes.
        for (const chunk of chunkBySize(batch.messages)) {
          await producer.send({ topic: output, messages: chunk.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp })) });
        }
        count += batch.messages.length;
        if (tWarm === 0 && count >= opts.warmup) {
          tWarm = performance.now();
          warmCount = count;
        }
        if (count >= N && tEnd === 0) {
          tEnd = performance.now();
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  await producer.disconnect();
  await dropRun(env, run);
  const seconds = (tEnd - tWarm) / 1000;
  const result: ThroughputResult = { records: N, warmupRecords: warmCount, measuredRecords: N - warmCount, seconds, recordsPerSec: (N - warmCount) / seconds };
  writeResult(env, 'passthrough', { ...opts, transactions: N, partitions: env.partitions, topic: 'simulated transactions (Avro)', client: 'kafkajs consumer eachBatch → idempotent producer, chunkBySize' }, result);
  return result;
}
