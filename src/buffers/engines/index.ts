/**
 * The one place a queue engine is chosen from the options. Every buffer class calls `createQueueEngine` and
 * talks to the engine interfaces only.
 */
import type { ConsumingQueueEngine, QueueEngine } from '../engine.js';
import { SqliteQueueEngine, type SqliteEngineOptions } from './sqlite.js';
import { BullmqQueueEngine } from './bullmq.js';
import type { RedisOption } from './redis-connection.js';

export { QUEUE_FILE } from './sqlite.js';
export { MAX_BULLMQ_PRIORITY } from './bullmq.js';
export { checkRedisOption, type RedisOption } from './redis-connection.js';

/** The storage options of a buffer, as resolved by its constructor: SQLite's, plus `redis` for BullMQ. */
export type QueueEngineOptions = SqliteEngineOptions & {
  /** Run the queue on BullMQ on this Redis instead of SQLite. */
  redis?: RedisOption | undefined;
  /** BullMQ: put jobs in the prioritized set (higher `priority` first) rather than the plain wait list. */
  priorities?: boolean | undefined;
};

/**
 * Build the engine for a buffer's options: BullMQ (asynchronous, runs its own workers) when `redis` is set,
 * the SQLite engine (synchronous) otherwise.
 * @param options - resolved storage options
 * @returns the engine
 */
export function createQueueEngine(options: QueueEngineOptions & { redis: RedisOption }): ConsumingQueueEngine;
export function createQueueEngine(options: QueueEngineOptions & { redis?: undefined }): QueueEngine<'sync'>;
export function createQueueEngine(options: QueueEngineOptions): QueueEngine<'sync'> | ConsumingQueueEngine;
export function createQueueEngine(options: QueueEngineOptions): QueueEngine<'sync'> | ConsumingQueueEngine {
  if (options.redis !== undefined)
    return new BullmqQueueEngine({
      queue: options.queue,
      redis: options.redis,
      priorities: options.priorities ?? true,
    });
  return new SqliteQueueEngine(options);
}
