/**
 * TaskBuffer's admin role: counts, dead letters, retrying a dead job and cleanup, through the engine interface
 * (each answers in the engine's mode).
 */
import { thenMaybe, type JobRow, type MaybePromise, type QueueStats, type TaskEngine } from './engine.js';
import { toInfo } from './persistent-queue.js';
import { unwrapTraced } from './task-envelope.js';
import type { DeadLetter } from './task-types.js';
import { cleanupRange, intInput } from './validate.js';

function toDeadLetter(row: JobRow): DeadLetter {
  const j = toInfo<unknown>(row);
  return {
    id: j.id,
    type: row.type ?? '',
    data: unwrapTraced(j.payload).data,
    attempts: j.attempts,
    error: j.lastError,
    createdAt: j.createdAt,
    failedAt: j.finishedAt,
  };
}

/** The admin calls of one buffer's queue. */
export class TaskAdmin {
  constructor(private readonly engine: TaskEngine) {}

  /** Jobs per state. */
  stats(): MaybePromise<QueueStats> {
    return this.engine.stats();
  }

  /** Dead letters, newest first (`limit` default 100). */
  deadLetters(options: { limit?: number }): MaybePromise<DeadLetter[]> {
    return thenMaybe(this.engine.deadLetters(intInput(options.limit, 'limit', 100, 1)), (rows) =>
      rows.map(toDeadLetter),
    );
  }

  /** Queue a dead job again with a fresh attempt budget; false when no such dead job. */
  retryDead(id: number): MaybePromise<boolean> {
    return this.engine.retryDead(intInput(id, 'id', 0, 1));
  }

  /** Delete done (and dead) jobs finished more than `maxAgeDays` ago. */
  cleanup(options: { maxAgeDays?: number; includeDead?: boolean }): MaybePromise<number> {
    const { states, before } = cleanupRange(options, true);
    return this.engine.cleanup(states, before);
  }
}
