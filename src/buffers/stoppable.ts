import { EventEmitter } from 'node:events';
import { msInput } from './validate.js';

/**
 * What TaskBuffer and DatabaseBuffer share about stopping: `stop()` runs the buffer's own `doStop` once (every
 * later call, and `close()`, returns the same promise) with the `timeoutMs` option checked here.
 */
export abstract class StoppableBuffer<E extends Record<keyof E, unknown[]>> extends EventEmitter<E> {
  private stopPromise: Promise<void> | undefined;

  /**
   * Stop the buffer. Idempotent. A TaskBuffer stops taking jobs, lets in-flight jobs finish for up to
   * `timeoutMs`, then releases the leases of those still running (they run again later, here or in another
   * process) and closes the store. A DatabaseBuffer tries to apply what is recorded (up to `timeoutMs`), stops
   * its background work and closes the connections it opened; unapplied writes stay recorded and are applied by
   * the next start.
   * @param options - `timeoutMs` (default 10000)
   * @returns resolves when stopped
   */
  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopPromise ??= this.doStop(msInput(options.timeoutMs, 'timeoutMs', 10_000));
    return this.stopPromise;
  }

  /**
   * Same as `stop()` with the default timeout.
   * @returns resolves when stopped
   */
  close(): Promise<void> {
    return this.stop();
  }

  /** The buffer's own stop, run once by `stop()`. */
  protected abstract doStop(timeoutMs: number): Promise<void>;
}
