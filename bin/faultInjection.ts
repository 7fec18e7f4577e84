/**
 * Fault injection for `riskloop run`, off unless RISKLOOP_INJECT_FAULT is set: lets the fault tests
 * (and an operator rehearsing a supervisor set-up) see what a dead runtime does to the process
 * without waiting for a real fatal error.
 *
 *   RISKLOOP_INJECT_FAULT=<runtime>-consumer-crash:<ms>     runtime = loop | drift
 *
 * <ms> after the runtime's group consumer has started, the consumer reports the crash kafkajs
 * reports when it gives up for good (its `onCrash`, restart = false). That is a real path into the
 * runtime: the runtime handles it exactly as it would a real one (it goes to ERROR), and then
 * `riskloop run` must exit (bin/processGuard.ts). Nothing else about the client changes, and the
 * process logs a warning at start while a fault is armed.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { GroupConsumer, GroupConsumerHandlers, KafkaClient } from '../topology/kafka/client.js';

export const FaultSpec = z
  .string()
  .regex(/^(loop|drift)-consumer-crash:\d+$/, 'RISKLOOP_INJECT_FAULT must be <loop|drift>-consumer-crash:<ms>')
  .transform((s) => {
    const [what, ms] = s.split(':') as [string, string];
    return { runtime: what.replace('-consumer-crash', '') as 'loop' | 'drift', afterMs: Number(ms) };
  });
export type FaultSpec = z.output<typeof FaultSpec>;

export function readFaultSpec(env: Readonly<Record<string, string | undefined>>): FaultSpec | undefined {
  const raw = env.RISKLOOP_INJECT_FAULT;
  return raw ? FaultSpec.parse(raw) : undefined;
}

/** Wraps a client so that its group consumer crashes for good `afterMs` after start. */
export function withConsumerCrash(client: KafkaClient, afterMs: number, logger: Logger): KafkaClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop !== 'groupConsumer' || typeof value !== 'function') return value;
      return (...args: unknown[]): GroupConsumer => {
        const consumer = (value as (...a: unknown[]) => GroupConsumer).apply(target, args);
        return new Proxy(consumer, {
          get(c, p, r) {
            const v: unknown = Reflect.get(c, p, r);
            if (p !== 'start' || typeof v !== 'function') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(c) : v;
            return async (topics: string[], handlers: GroupConsumerHandlers): Promise<void> => {
              await (v as GroupConsumer['start']).call(c, topics, handlers);
              setTimeout(() => {
                logger.warn({ afterMs }, 'RISKLOOP_INJECT_FAULT: reporting a consumer crash (restart = false)');
                handlers.onCrash?.(new Error(`injected fault: group consumer crashed for good after ${afterMs} ms (RISKLOOP_INJECT_FAULT)`));
              }, afterMs).unref();
            };
          },
        });
      };
    },
  });
}
