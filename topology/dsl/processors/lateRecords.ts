/**
 * Shared handling of records that arrive for windows that already closed: count them, log them,
 * and send them to the late-records sink when one is configured, so that nothing disappears
 * without a trace.
 */
import type { ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';

export class LateRecords<K, V> {
  constructor(
    private readonly ctx: ProcessorContext<unknown, unknown>,
    /** The late-records sink among the node's children, if configured. */
    private readonly sinkName: string | undefined,
  ) {}

  /** The node's children that receive normal output (all but the late-records sink). */
  outputChildren(): string[] {
    return this.ctx.childNames().filter((c) => c !== this.sinkName);
  }

  drop(record: Record<K, V>, details: { windowCloseMs: number; streamTimeMs: number }): void {
    this.ctx.recordDropped('late');
    const meta = this.ctx.recordMetadata();
    this.ctx.logger.debug({ ...meta, timestamp: record.timestamp, ...details }, 'dropping late record: its windows are closed');
    if (this.sinkName !== undefined) this.ctx.forward(record, this.sinkName);
  }
}
