/**
 * The one place a queue engine is chosen from the options. Every buffer class calls `createQueueEngine` and
 * talks to the {@link QueueEngine} interface only.
 */
import type { QueueEngine } from '../engine.js';
import { SqliteQueueEngine, type SqliteEngineOptions } from './sqlite.js';

export { QUEUE_FILE } from './sqlite.js';

/**
 * The storage options of a buffer, as resolved by its constructor. Today the SQLite engine's options; the
 * BullMQ issue adds its `redis` connection and queue settings here.
 */
export type QueueEngineOptions = SqliteEngineOptions;

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
