/**
 * One pino logger (JSON lines on stdout) for the registry, and a bridge that sends KafkaJS's own
 * log lines into it, so that a single stream tells what the registry and its clients did.
 */
import { type LogEntry, type logCreator, logLevel } from 'kafkajs';
import { type Logger, pino } from 'pino';
import type { RegistryConfig } from './config.js';

export function createLogger(config: RegistryConfig): Logger {
  return pino({ name: 'riskloop-registry', level: config.logLevel });
}

/**
 * @param demote log every KafkaJS line at debug: for the transactional writer, whose "fenced" /
 * "old epoch" errors are the expected outcome of a race that the store retries (see store.ts).
 */
export function kafkaLogCreator(logger: Logger, demote = false): logCreator {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      // pino stamps its own time; KafkaJS's timestamp and logger name would only repeat it.
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log;
      const fields = { namespace, ...extra };
      if (demote) return child.debug(fields, message);
      switch (level) {
        case logLevel.ERROR:
          return child.error(fields, message);
        case logLevel.WARN:
          return child.warn(fields, message);
        case logLevel.INFO:
          return child.info(fields, message);
        default:
          return child.debug(fields, message);
      }
    };
}
