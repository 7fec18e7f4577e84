/**
 * The body of one stream thread: a worker thread that builds its own KafkaStreams through the
 * application's factory module and runs it — its own consumer in the application's group, its own
 * producer(s), its own tasks, state folder and global stores — reporting to the StreamThreads
 * client in the main thread (state changes, metrics snapshots, failures).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { KafkaStreams } from '../kafka/kafkaStreams.js';
import type { FromThread, ThreadInit, ToThread, WireSample } from './protocol.js';
import type { StreamThreadFactory, StreamThreadHandle } from './streamThreads.js';

const init = workerData as ThreadInit;
const port = parentPort!;
const post = (m: FromThread): void => port.postMessage(m);

function samples(streams: KafkaStreams): WireSample[] {
  return streams.metrics.snapshot().map((s) => ({
    name: s.name,
    labels: s.labels,
    type: s.type,
    value: s.value,
    ...(s.histogram ? { histogram: { counts: [...s.histogram.counts], count: s.histogram.count, sum: s.histogram.sum, max: s.histogram.max } } : {}),
  }));
}

async function main(): Promise<void> {
  const appHandlers: ((payload: unknown) => void)[] = [];
  const mod = (await import(init.module)) as { createStreamThread?: StreamThreadFactory };
  if (typeof mod.createStreamThread !== 'function') throw new Error(`${init.module} does not export createStreamThread`);
  let handle: StreamThreadHandle;
  try {
    handle = await mod.createStreamThread(init.data, {
      index: init.index,
      post: (payload) => post({ type: 'app', payload }),
      onMessage: (h) => void appHandlers.push(h),
    });
  } catch (err) {
    post({ type: 'startFailed', message: (err as Error).message });
    return;
  }
  const { streams } = handle;
  const publish = (): void => {
    streams.publishTaskMetrics();
    post({ type: 'metrics', samples: samples(streams), tasks: streams.taskStates(), report: handle.report?.() });
  };
  // Tasks and metrics go with each state change, so that the main thread never reports RUNNING
  // beside the task list of an earlier snapshot.
  streams.on('stateChange', (to, from) => {
    publish();
    post({ type: 'state', to, from });
  });
  // After 'error' the runtime shuts itself down dirty and then emits 'closed': the thread is dead.
  let failure: string | undefined;
  streams.on('error', (err: Error) => {
    failure = err.message;
  });
  streams.on('closed', () => post({ type: 'failed', message: failure ?? 'stream thread failed' }));
  const timer = setInterval(publish, init.metricsIntervalMs);
  port.on('message', (m: ToThread) => {
    if (m.type === 'app') for (const h of appHandlers) h(m.payload);
    else if (m.type === 'crash') {
      setImmediate(() => {
        throw new Error(`injected crash of stream thread ${init.index}`);
      });
    } else if (m.type === 'close') {
      clearInterval(timer);
      (handle.close ?? (() => streams.close()))()
        .catch((err: Error) => post({ type: 'failed', message: `close failed: ${err.message}` }))
        .finally(() => {
          publish();
          post({ type: 'closed' });
        });
    }
  });
  try {
    await streams.start();
  } catch (err) {
    clearInterval(timer);
    post({ type: 'startFailed', message: (err as Error).message });
    return;
  }
  post({ type: 'started' });
  publish();
}

main().catch((err: Error) => post({ type: 'startFailed', message: err.message }));
