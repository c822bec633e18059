/**
 * TaskBuffer's producer role: checks a push (known task type, push options, the handler's input schema, JSON,
 * size) and builds the job to insert, with the trace envelope. Engine-neutral: the buffer hands the job to its
 * engine.
 */
import type { InsertJob } from './engine.js';
import { BufferError } from './errors.js';
import type { Registered } from './task-options.js';
import type { TaskPushOptions } from './task-types.js';
import { wrapTraced } from './task-envelope.js';
import { jobInput, serializePayload } from './validate.js';

/** Zod issue paths and messages, short: `to: Invalid email; attempts: Too small`. */
function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const shown = issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`);
  if (issues.length > 5) shown.push(`... ${issues.length - 5} more`);
  return shown.join('; ');
}

/** What the producer needs from the buffer's options. */
export interface ProducerSettings {
  queue: string;
  handlers: ReadonlyMap<string, Registered>;
  priorities: boolean;
  maxAttempts: number;
  maxPayloadBytes: number;
}

/** Builds checked jobs for one buffer. */
export class TaskProducer {
  constructor(private readonly o: ProducerSettings) {}

  /**
   * The job for one push.
   * @throws BufferError `ERR_BUFFER_UNKNOWN_TASK`, `ERR_BUFFER_INVALID_PAYLOAD`, `ERR_BUFFER_INVALID_INPUT`
   */
  prepare(type: string, data: unknown, options: TaskPushOptions, now: number): InsertJob {
    const handler = this.o.handlers.get(type);
    if (!handler) {
      throw new BufferError(
        `unknown task type ${JSON.stringify(String(type))}: no handler registered (known: ${[...this.o.handlers.keys()].join(', ') || 'none'})`,
        { code: 'ERR_BUFFER_UNKNOWN_TASK' },
      );
    }
    if (typeof options !== 'object' || options === null)
      throw new BufferError('push options must be an object', { code: 'ERR_BUFFER_INVALID_INPUT' });
    if (!this.o.priorities && options.priority !== undefined && options.priority !== 0) {
      throw new BufferError(
        `priority ${String(options.priority)} refused: task buffer ${this.o.queue} has priorities: false (every job runs in push order)`,
        { code: 'ERR_BUFFER_INVALID_INPUT' },
      );
    }
    if (handler.input) {
      const parsed = handler.input.safeParse(data);
      if (!parsed.success) {
        throw new BufferError(
          `data of task ${type} does not match its input schema: ${describeIssues(parsed.error.issues)}`,
          { code: 'ERR_BUFFER_INVALID_PAYLOAD', cause: parsed.error },
        );
      }
      data = parsed.data;
    }
    return jobInput(
      type,
      wrapTraced(serializePayload(data, `data of task ${type}`, this.o.maxPayloadBytes)),
      options,
      now,
      this.o.maxAttempts,
    );
  }

  /**
   * The jobs of one `pushMany` (all checked before any is stored).
   * @throws BufferError `ERR_BUFFER_INVALID_INPUT` when `jobs` is not an array, or a push error
   */
  prepareMany(jobs: readonly { type: string; data: unknown; options?: TaskPushOptions }[]): InsertJob[] {
    if (!Array.isArray(jobs))
      throw new BufferError('pushMany() takes an array of { type, data, options? }', {
        code: 'ERR_BUFFER_INVALID_INPUT',
      });
    const now = Date.now();
    return jobs.map((j) => this.prepare(j.type, j.data, j.options ?? {}, now));
  }
}
