/**
 * The one place a queue engine is chosen from the options. Every buffer class calls `createQueueEngine` and
 * talks to the {@link QueueEngine} interface only.
 */
import type { Durability } from '../../database/index.js';
import type { QueueEngine } from '../engine.js';
import { SqliteQueueEngine } from './sqlite.js';

export { QUEUE_FILE } from './sqlite.js';

/** The storage options of a buffer, as resolved by its constructor. */
export interface QueueEngineOptions {
  /** Queue name. */
  queue: string;
  /** Directory of the embedded store file. */
  dataDir: string;
  /** Explicit embedded store file. */
  file?: string | undefined;
  /** Commit durability of the embedded store. */
  durability: Durability;
  /** Lock wait of the embedded store, in ms. */
  busyTimeoutMs: number;
}

/**
 * Build the engine for a buffer's options.
 * The BullMQ issue (#18) adds one implementation (`engines/bullmq.ts`, `QueueEngine<'async'>`) and one branch
 * here: `if (options.redis !== undefined) return new BullmqQueueEngine(options)`, with an overload typing the
 * result by whether `redis` is set. Nothing else changes in the buffer classes' choice of engine.
 * @param options - resolved storage options
 * @returns the engine (SQLite, synchronous, today)
 */
export function createQueueEngine(options: QueueEngineOptions): QueueEngine<'sync'> {
  return new SqliteQueueEngine(options);
}
