import type { EventEmitter } from 'node:events';
import type { StreamsState } from './kafkaStreams.js';

/** What waitForRunning needs of a client: its stateChange events, its state now, and the error that stopped it. */
export interface StateSource {
  events: Pick<EventEmitter, 'on' | 'off'>;
  state(): StreamsState;
  failure(): Error | undefined;
}

/**
 * Resolves when the client reaches RUNNING, rejects when it reaches ERROR or NOT_RUNNING first
 * (with the error that stopped it) or after `timeoutMs`. One helper for the single-threaded
 * client and the stream-threads client, so both answer the same way.
 */
export function waitForRunning(source: StateSource, timeoutMs: number, what: string): Promise<void> {
  if (source.state() === 'RUNNING') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      source.events.off('stateChange', onChange);
      reject(new Error(`not RUNNING after ${timeoutMs} ms (state ${source.state()})`));
    }, timeoutMs);
    const onChange = (s: StreamsState): void => {
      if (s !== 'RUNNING' && s !== 'ERROR' && s !== 'NOT_RUNNING') return;
      clearTimeout(timer);
      source.events.off('stateChange', onChange);
      if (s === 'RUNNING') resolve();
      else reject(source.failure() ?? new Error(`${what} went to ${s}`));
    };
    source.events.on('stateChange', onChange);
  });
}
