/**
 * Buffers: durable background work on one SQLite queue store (`dataDir/gatehouse-queues.db`), or, for
 * TaskBuffer with a `redis` option, on BullMQ.
 * PersistentQueue (raw leased queue), TaskBuffer (handlers, workers, retries, dead letters) and
 * DatabaseBuffer (durable, batched writes to a main database).
 */
export { PersistentQueue } from './persistent-queue.js';
export type {
  PersistentQueueOptions,
  PushInput,
  PushOptions,
  LeasedJob,
  JobInfo,
  FailOptions,
} from './persistent-queue.js';
export { TaskBuffer } from './task-buffer.js';
export { defineTask } from './task-types.js';
export type {
  TaskBufferOptions,
  TaskBufferEvents,
  TaskContext,
  TaskHandler,
  TaskHandlers,
  TaskDefinition,
  TaskData,
  TaskJobInfo,
  TaskPushOptions,
  TaskErrorHook,
  DeadLetter,
  LifecycleLike,
  TaskBufferMode,
} from './task-types.js';
export type { ScheduleSpec, ScheduleInfo, TaskScheduleOptions, ScheduleMissedPolicy } from './schedules.js';
export { DatabaseBuffer } from './database-buffer.js';
export type { DatabaseBufferOptions, DatabaseBufferEvents, BufferedWrite, DeadWrite } from './database-buffer.js';
export { BufferError, UnrecoverableError } from './errors.js';
export type { BufferErrorCode, BufferErrorOptions } from './errors.js';
export type { BackoffOptions, BackoffType, ResolvedBackoff } from '../backoff.js';
export type { Durability } from '../database/index.js';
export type { JobState, QueueStats, EngineMode, EngineResult, MaybePromise } from './engine.js';
export type { RedisOption } from '../redis.js';
export { runWorker } from './worker.js';
export type { RunWorkerOptions, WorkerBuffer, WorkerHandle } from './worker.js';
