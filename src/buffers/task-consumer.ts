/**
 * TaskBuffer's consumer role: runs the handler of each job the engine's consumer hands over (inside its trace,
 * with the per-attempt timeout), turns outcomes into events and the `onError` hook, and pauses the engine's
 * consumer while the lifecycle is not ACTIVE. Engine-neutral: the lease loop (SQLite) or Worker (BullMQ) is the
 * engine's.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import { backoffDelay, type ResolvedBackoff } from '../backoff.js';
import { runWithTrace, traceFrom, type TraceContext } from '../trace.js';
import type { ConsumedJob, JobConsumer, JobRun, TaskEngine } from './engine.js';
import { BufferError, UnrecoverableError } from './errors.js';
import { emitSafely } from './emit.js';
import { unwrapTraced } from './task-envelope.js';
import type { Registered } from './task-options.js';
import type { LifecycleLike, TaskBufferEvents, TaskContext, TaskErrorHook, TaskJobInfo } from './task-types.js';

/** Handler context and running attempt; the AbortController is created only if the handler reads `signal`. */
class JobContext implements TaskContext, JobRun {
  private ac: AbortController | undefined;
  private reason: unknown;
  private aborted = false;
  trace: TraceContext | undefined = undefined;
  done: Promise<unknown> = Promise.resolve();
  readonly startedAt = performance.now();

  constructor(
    readonly id: number,
    readonly type: string,
    readonly attempts: number,
    readonly maxAttempts: number,
    readonly data: unknown,
  ) {}

  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.aborted) this.ac.abort(this.reason);
    }
    return this.ac.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.ac?.abort(reason);
  }
}

/** What the consumer role needs from the buffer's options. */
export interface ConsumerSettings {
  handlers: ReadonlyMap<string, Registered>;
  workers: number;
  leaseMs: number;
  timeoutMs: number;
  pollIntervalMs: number;
  keepAlive: boolean;
  pauseWhenNotActive: boolean;
  backoff: ResolvedBackoff;
  onError: TaskErrorHook | undefined;
  lifecycle: LifecycleLike | undefined;
}

/** Runs one buffer's jobs on its engine's consumer. */
export class TaskConsumer {
  private consumer: JobConsumer | undefined;
  private unlisten: (() => void) | undefined;
  private paused = false;

  constructor(
    private readonly o: ConsumerSettings,
    private readonly emitter: EventEmitter<TaskBufferEvents>,
    private readonly log: Logger,
  ) {}

  /** True while started and paused by the lifecycle. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Jobs running in this process. */
  get running(): number {
    return this.consumer ? this.consumer.running : 0;
  }

  /** Start the engine's consumer with this buffer's runner. */
  start(engine: TaskEngine): void {
    const consumer = engine.consume((job) => this.run(job), {
      workers: this.o.workers,
      leaseMs: this.o.leaseMs,
      pollIntervalMs: this.o.pollIntervalMs,
      keepAlive: this.o.keepAlive,
      log: this.log,
      retryDelay: (attempt) => backoffDelay(this.o.backoff, attempt),
      isUnrecoverable: (error) => error instanceof UnrecoverableError,
      onCompleted: (run, result) => this.emit('completed', info(run), result),
      onFailed: (job, error, final, recorded) => this.failed(job, error, final, recorded),
      onDrained: () => this.emit('drained'),
    });
    this.consumer = consumer;
    const lifecycle = this.o.lifecycle;
    if (!lifecycle) return;
    this.paused = this.o.pauseWhenNotActive && lifecycle.status !== 'ACTIVE';
    if (this.paused) consumer.pause();
    this.unlisten = lifecycle.onChange((next) => {
      const wasPaused = this.paused;
      this.paused = this.o.pauseWhenNotActive && next !== 'ACTIVE';
      if (wasPaused === this.paused) return;
      this.log.info({ lifecycle: next, paused: this.paused }, 'task buffer pause changed');
      if (this.paused) consumer.pause();
      else consumer.resume();
    });
  }

  /**
   * Stop the consumer: running jobs get up to `timeoutMs`, the rest go back to the queue.
   * @returns how many jobs were given back
   */
  async stop(timeoutMs: number): Promise<number> {
    this.unlisten?.();
    return this.consumer ? this.consumer.stop(timeoutMs) : 0;
  }

  /** Emit without letting a throwing listener break the worker loop (it is logged instead). */
  private emit<K extends keyof TaskBufferEvents>(event: K, ...args: TaskBufferEvents[K]): void {
    emitSafely(this.emitter, this.log, event, args);
  }

  private failed(job: JobContext | ConsumedJob, error: Error, final: boolean, recorded: boolean): void {
    const data = job instanceof JobContext ? job.data : unwrapTraced(job.data).data;
    if (this.o.onError) {
      try {
        this.o.onError(job.type, data, error, error.stack);
      } catch (hookErr) {
        this.log.error({ err: hookErr }, 'onError hook threw');
      }
    }
    if (!recorded) return;
    const i = info(job);
    this.emit('failed', i, error, !final);
    if (final) this.emit('dead', i, error);
  }

  /** Start one attempt: the handler inside the job's trace, with the timeout. */
  private run(job: ConsumedJob): JobContext {
    const { data, traceparent } = unwrapTraced(job.data);
    const ctx = new JobContext(job.id, job.type, job.attempts, job.maxAttempts, data);
    if (traceparent !== undefined) ctx.trace = traceFrom(traceparent);
    const handler = this.o.handlers.get(job.type);
    ctx.done = handler
      ? this.execute(handler.fn, data, ctx)
      : // Another process may have pushed a type this one does not know; let a process that knows it run it.
        Promise.reject(
          new BufferError(`no handler for task type ${JSON.stringify(job.type)} in this process`, {
            code: 'ERR_BUFFER_UNKNOWN_TASK',
          }),
        );
    return ctx;
  }

  private execute(handler: Registered['fn'], data: unknown, ctx: JobContext): Promise<unknown> {
    let p: Promise<unknown>;
    try {
      // A traced job's handler runs inside its trace: calls it makes (sendRequest, pushes) carry it on.
      const trace = ctx.trace;
      p = Promise.resolve(trace === undefined ? handler(data, ctx) : runWithTrace(trace, () => handler(data, ctx)));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const timeoutMs = this.o.timeoutMs;
    if (timeoutMs <= 0) return p;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new BufferError(`task ${ctx.type} (job ${ctx.id}) timed out after ${timeoutMs} ms`, {
          code: 'ERR_BUFFER_TIMEOUT',
        });
        ctx.abort(err);
        reject(err);
      }, timeoutMs);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}

/** A job as events see it: data unwrapped, and the run time when this process ran it. */
function info(job: JobContext | ConsumedJob): TaskJobInfo {
  if (job instanceof JobContext)
    return {
      id: job.id,
      type: job.type,
      data: job.data,
      attempts: job.attempts,
      maxAttempts: job.maxAttempts,
      durationMs: performance.now() - job.startedAt,
    };
  return {
    id: job.id,
    type: job.type,
    data: unwrapTraced(job.data).data,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
  };
}
