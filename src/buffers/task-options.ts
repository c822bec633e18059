/**
 * TaskBuffer's options resolved once, with the options kit: DEFAULTS, the checks, the handlers (with the
 * enforcer's registration rules) and the backoff. One message shape for every refused option:
 * `TaskBuffer: option "workers" must be an integer from 1 to 1000 (got 0)` (`ERR_BUFFER_OPTIONS`).
 */
import type { ZodType } from 'zod';
import { checkHandlerRegistration, type EnforceMode } from '../enforcer/internal.js';
import { resolveBackoff, type BackoffOptions, type BackoffSettings, type ResolvedBackoff } from '../backoff.js';
import { optionChecks, withDefaults } from '../options.js';
import type { RedisOption } from '../redis.js';
import { BufferError } from './errors.js';
import type {
  LifecycleLike,
  TaskBufferOptions,
  TaskDefinition,
  TaskErrorHook,
  TaskHandler,
  TaskHandlers,
} from './task-types.js';
import { checkQueueName, checkStoreOptions, maxPayloadOption } from './validate.js';
import type { Durability } from '../database/index.js';

/** A registered handler: the function and, for a definition, its input schema. */
export interface Registered {
  fn: TaskHandler;
  input: ZodType | undefined;
}

/** TaskBuffer's options after checks and defaults. */
export interface ResolvedTaskOptions {
  queue: string;
  dataDir: string;
  file: string | undefined;
  durability: Durability;
  busyTimeoutMs: number;
  redis: RedisOption | undefined;
  priorities: boolean;
  workers: number;
  maxAttempts: number;
  leaseMs: number;
  timeoutMs: number;
  pollIntervalMs: number;
  pauseWhenNotActive: boolean;
  keepAlive: boolean;
  maxPayloadBytes: number;
  backoff: ResolvedBackoff;
  handlers: Map<string, Registered>;
  onError: TaskErrorHook | undefined;
  lifecycle: LifecycleLike | undefined;
}

const DEFAULTS = {
  dataDir: './data',
  queue: 'tasks',
  priorities: true,
  durability: 'normal',
  busyTimeoutMs: 5000,
  workers: 4,
  maxAttempts: 5,
  leaseMs: 30_000,
  timeoutMs: 30_000,
  pollIntervalMs: 500,
  pauseWhenNotActive: true,
  keepAlive: true,
} as const satisfies Partial<TaskBufferOptions>;

const ENFORCE_MODES: readonly EnforceMode[] = ['strict', 'warn', 'off'];

const check = optionChecks('TaskBuffer', (message) => new BufferError(message, { code: 'ERR_BUFFER_OPTIONS' }));

/** TaskBuffer's settings for the shared backoff: `jitter: true` is equal jitter (a retry never comes back at once). */
const TASK_BACKOFF: BackoffSettings = {
  defaults: { type: 'exponential', delayMs: 1000, maxDelayMs: 60_000, jitter: 'equal' },
  jitter: 'equal',
  option: 'backoff',
  error: (message) => new BufferError(message, { code: 'ERR_BUFFER_OPTIONS' }),
};

/**
 * Validate and fill in a TaskBuffer `backoff` option (the shared resolver with TaskBuffer's defaults).
 * @param options - user options (any field may be missing)
 * @returns the resolved backoff
 * @throws BufferError `ERR_BUFFER_OPTIONS` naming the bad field
 */
export function resolveTaskBackoff(options: BackoffOptions | undefined): ResolvedBackoff {
  return resolveBackoff(options, TASK_BACKOFF);
}

function isSchema(input: unknown): boolean {
  return (
    typeof input === 'object' && input !== null && typeof (input as { safeParse?: unknown }).safeParse === 'function'
  );
}

/** Validate one `handlers` entry and apply the enforcer's registration rules to it. */
function registerHandler(type: string, entry: unknown, mode: EnforceMode | undefined): Registered {
  const enforce = mode === undefined ? {} : { mode };
  if (typeof entry === 'function') {
    checkHandlerRegistration({ kind: 'task', name: type, handler: entry, plain: true, ...enforce });
    return { fn: entry as TaskHandler, input: undefined };
  }
  const def = entry as Partial<TaskDefinition> | null;
  if (typeof def !== 'object' || def === null || typeof def.handle !== 'function')
    check.fail(`handlers.${type}`, 'a function or { description, input, handle }', entry);
  const { description, input, handle } = def as Partial<TaskDefinition>;
  checkHandlerRegistration({ kind: 'task', name: type, description, input, handler: handle, ...enforce });
  // Whatever the mode, an input that is given must be usable: push() relies on it.
  if (input !== undefined && !isSchema(input)) check.fail(`handlers.${type}.input`, 'a zod schema', input);
  return { fn: handle as TaskHandler, input };
}

/**
 * Check every TaskBuffer option and apply the defaults.
 * @param options - what the user passed
 * @returns the resolved options
 * @throws BufferError `ERR_BUFFER_OPTIONS` naming the bad option; GatehouseError `ERR_REDIS_OPTIONS` for `redis`
 */
export function resolveTaskOptions(
  options: TaskBufferOptions<TaskHandlers, RedisOption | undefined>,
): ResolvedTaskOptions {
  const o = withDefaults(DEFAULTS, options);
  checkQueueName(o.queue, 'queue', 'TaskBuffer');
  // BullMQ builds keys as <prefix>:<queue>:<id>.
  if (o.redis !== undefined && o.queue.includes(':'))
    check.fail('queue', 'a name without ":" on the BullMQ engine', o.queue);
  checkStoreOptions(o, 'TaskBuffer');
  const handlers = o.handlers ?? {};
  if (typeof handlers !== 'object' || handlers === null)
    check.fail('handlers', 'an object of functions or { description, input, handle }', handlers);
  if (o.enforce !== undefined) check.oneOf('enforce', o.enforce, ENFORCE_MODES);
  if (o.onError !== undefined) check.func('onError', o.onError);
  const lifecycle = o.lifecycle;
  if (lifecycle !== undefined && (typeof lifecycle.onChange !== 'function' || typeof lifecycle.status !== 'string'))
    check.fail('lifecycle', 'an object with status and onChange()', lifecycle);
  const registered = new Map<string, Registered>();
  for (const [type, entry] of Object.entries(handlers) as [string, unknown][])
    registered.set(type, registerHandler(type, entry, o.enforce));
  return {
    queue: o.queue,
    dataDir: o.dataDir,
    file: o.file,
    durability: o.durability,
    busyTimeoutMs: o.busyTimeoutMs,
    redis: o.redis,
    maxPayloadBytes: maxPayloadOption(o.maxPayloadBytes, 'TaskBuffer'),
    workers: check.int('workers', o.workers, { min: 1, max: 1000 }),
    maxAttempts: check.int('maxAttempts', o.maxAttempts, { min: 1 }),
    leaseMs: check.int('leaseMs', o.leaseMs, { min: 100 }),
    timeoutMs: check.number('timeoutMs', o.timeoutMs, { min: 0 }),
    pollIntervalMs: check.int('pollIntervalMs', o.pollIntervalMs, { min: 10 }),
    keepAlive: check.bool('keepAlive', o.keepAlive),
    pauseWhenNotActive: check.bool('pauseWhenNotActive', o.pauseWhenNotActive),
    priorities: check.bool('priorities', o.priorities),
    backoff: resolveTaskBackoff(o.backoff),
    handlers: registered,
    onError: o.onError,
    lifecycle,
  };
}
