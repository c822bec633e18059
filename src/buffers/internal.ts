/**
 * Names of the buffers capability that other capabilities and tests need but users do not: the engine
 * interfaces, the engine factory and the error table.
 */
export type { ConsumedJob, ConsumeOptions, JobConsumer, JobRun, JobStore, QueueEngine, TaskEngine } from './engine.js';
export { createQueueEngine, createLeasedQueue } from './engines/index.js';
export { BUFFER_ERRORS } from './errors.js';
export { resolveTaskBackoff } from './task-options.js';
export { QUEUE_FILE } from './engines/sqlite-store.js';
