/**
 * Background work: in-process schedules (runEvery / runAt / runOnce) and the Executor (bounded concurrency for
 * async work, worker threads through piscina for CPU-bound work).
 */
export { runEvery, runAt, runOnce, MAX_TIMER_MS } from './schedules.js';
export type {
  ScheduleKind,
  ScheduleErrorHook,
  ScheduleContext,
  ScheduledFn,
  ScheduleOptions,
  RunEveryOptions,
  RunAtOptions,
  RunOnceOptions,
  ScheduleHandle,
} from './schedules.js';
export { Executor } from './executor.js';
export type {
  ExecutorOptions,
  ExecutorErrorHook,
  ExecutorStats,
  ExecutorCloseOptions,
  JobContext,
  JobFn,
  SubmitOptions,
  MapOptions,
} from './executor.js';
export { BackgroundError } from './errors.js';
export type { BackgroundErrorCode, BackgroundErrorOptions } from './errors.js';
