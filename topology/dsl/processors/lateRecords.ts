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

  /**
   * A record that reached no open window: counted once per closed window it belonged to (Kafka
   * Streams counts a drop per expired window), and sent to the late-records sink.
   */
  drop(record: Record<K, V>, details: { windowCloseMs: number; streamTimeMs: number }, closedWindows = 1): void {
    this.closed(record, details, closedWindows);
    if (this.sinkName !== undefined) this.ctx.forward(record, this.sinkName);
  }

  /**
   * Closed windows of a record that did update some open ones: counted, not sent to the sink (the
   * record is not lost, only its contribution to windows already emitted as final).
   */
  closed(record: Record<K, V>, details: { windowCloseMs: number; streamTimeMs: number }, closedWindows: number): void {
    for (let i = 0; i < closedWindows; i++) this.ctx.recordDropped('late');
    const meta = this.ctx.recordMetadata();
    this.ctx.logger.debug({ ...meta, timestamp: record.timestamp, closedWindows, ...details }, 'late record: some or all of its windows are closed');
  }
}
