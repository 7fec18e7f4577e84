// Readiness probe for stack.sh: exits 0 only when the service answers a real request.
//   node stack/probe.mjs kafka 127.0.0.1:9092     -> a metadata request through kafkajs
//   node stack/probe.mjs registry http://127.0.0.1:8081 -> GET /subjects answers 200
// With KAFKA_SECURITY_PROTOCOL set (the secured stack), run it under `node --import tsx`: it then
// connects with the same TLS/SASL settings as every riskloop process (bin/kafkaConnection.ts).
import { Kafka, logLevel } from 'kafkajs';

const [what, where] = process.argv.slice(2);

async function kafka(broker) {
  let connection = { brokers: [broker] };
  if (process.env.KAFKA_SECURITY_PROTOCOL) {
    const { kafkaConnectionFromEnv } = await import('../bin/kafkaConnection.ts');
    const { kafkajsConnectionOptions } = await import('../topology/kafka/connection.ts');
    connection = kafkajsConnectionOptions(kafkaConnectionFromEnv(process.env, [broker]));
  }
  const admin = new Kafka({
    clientId: 'riskloop-probe',
    ...connection,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    retry: { retries: 0 },
  }).admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) throw new Error('no brokers in metadata');
    // A broker can answer metadata before its controller quorum is usable; topic metadata proves it.
    await admin.fetchTopicMetadata({ topics: [] });
  } finally {
    await admin.disconnect();
  }
}

async function registry(url) {
  const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
  // 401: a registry with a users file (registry/auth.ts) answers, and asks for credentials: it is up.
  if (res.status !== 200 && res.status !== 401) throw new Error(`registry answered ${res.status}`);
}

try {
  if (what === 'kafka') await kafka(where);
  else if (what === 'registry') await registry(where);
  else throw new Error(`unknown probe ${what}`);
  process.exit(0);
} catch (err) {
  console.error(`probe ${what} ${where}: ${err.message}`);
  process.exit(1);
}
