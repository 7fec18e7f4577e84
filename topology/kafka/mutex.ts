/**
 * Runs async sections one at a time. The stream thread's work — processing a batch, committing,
 * punctuating, reacting to a rebalance — must never interleave, because each of them reads and
 * writes the same tasks and transactional producers (KafkaJS transactions must not overlap).
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
