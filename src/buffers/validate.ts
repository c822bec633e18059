import { optionMessage } from '../options.js';
import { openSettingsProblem } from '../database/internal.js';
import type { InsertJob } from './engine.js';
import { BufferError } from './errors.js';

function invalidValue(v: unknown): string | undefined {
  switch (typeof v) {
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'bigint':
      return 'a bigint';
    case 'number':
      return Number.isFinite(v) ? undefined : String(v);
    default:
      return undefined;
  }
}

/** Thrown by {@link strictReplacer}; turned into a BufferError naming the payload. */
class InvalidJsonValue extends Error {
  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(problem);
  }
}

/** JSON.stringify replacer refusing values JSON would drop or change (module-level: no closure per call). */
function strictReplacer(key: string, v: unknown): unknown {
  const bad = invalidValue(v);
  if (bad) throw new InvalidJsonValue(key, bad);
  return v;
}

/**
 * Serialise a payload to JSON, refusing values JSON would silently drop or change (functions, symbols,
 * undefined at the top level, NaN/Infinity) or cannot encode (bigint, cycles).
 * @param value - the payload
 * @param what - name used in the error message, e.g. `'payload'`
 * @param maxBytes - largest serialised size allowed (UTF-8 bytes); unlimited when omitted
 * @returns the JSON text
 * @throws BufferError `ERR_BUFFER_INVALID_PAYLOAD`, or `ERR_BUFFER_PAYLOAD_TOO_LARGE` over `maxBytes`
 */
export function serializePayload(value: unknown, what: string, maxBytes: number = Infinity): string {
  if (value === undefined)
    throw new BufferError(`${what} must be JSON-serialisable, got undefined`, { code: 'ERR_BUFFER_INVALID_PAYLOAD' });
  let text: string | undefined;
  try {
    text = JSON.stringify(value, strictReplacer);
  } catch (err) {
    if (err instanceof InvalidJsonValue) {
      throw new BufferError(
        `${what} must be JSON-serialisable: ${err.key ? `key "${err.key}" is` : 'value is'} ${err.problem}`,
        { code: 'ERR_BUFFER_INVALID_PAYLOAD' },
      );
    }
    throw new BufferError(`${what} must be JSON-serialisable: ${(err as Error).message}`, {
      code: 'ERR_BUFFER_INVALID_PAYLOAD',
      cause: err,
    });
  }
  if (typeof text !== 'string')
    throw new BufferError(`${what} must be JSON-serialisable`, { code: 'ERR_BUFFER_INVALID_PAYLOAD' });
  // A UTF-8 byte is at most one UTF-16 unit's worth of length * 3: skip the exact count when it cannot matter.
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > maxBytes) {
      throw new BufferError(`${what} is ${bytes} bytes serialised, more than maxPayloadBytes (${maxBytes})`, {
        code: 'ERR_BUFFER_PAYLOAD_TOO_LARGE',
      });
    }
  }
  return text;
}

/**
 * Check a non-negative integer input (priority, maxAttempts, ...).
 * @param value - the value (undefined → fallback)
 * @param name - name used in the error message
 * @param fallback - value when undefined
 * @param min - smallest allowed value
 * @returns the value
 * @throws BufferError `ERR_BUFFER_INVALID_INPUT`
 */
export function intInput(value: unknown, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new BufferError(`${name} must be an integer >= ${min}, got ${String(value)}`, {
      code: 'ERR_BUFFER_INVALID_INPUT',
    });
  }
  return value;
}

/**
 * Check a non-negative finite duration in ms.
 * @param value - the value (undefined → fallback)
 * @param name - name used in the error message
 * @param fallback - value when undefined
 * @returns the value
 * @throws BufferError `ERR_BUFFER_INVALID_INPUT`
 */
export function msInput(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new BufferError(`${name} must be a finite number of ms >= 0, got ${String(value)}`, {
      code: 'ERR_BUFFER_INVALID_INPUT',
    });
  }
  return value;
}

/** A predicate check of one option, bound to its owner (the options kit's message, `ERR_BUFFER_OPTIONS`). */
export type OptionCheck = (ok: boolean, name: string, expected: string, value: unknown) => void;

/**
 * The option check of one buffer class: throws `ERR_BUFFER_OPTIONS` with the options kit's message
 * (`PersistentQueue: option "leaseMs" must be an integer > 0 (got 0)`).
 * @param owner - the class reading the options
 */
export function optionCheck(owner: string): OptionCheck {
  return (ok, name, expected, value) => {
    if (!ok) throw new BufferError(optionMessage(owner, name, expected, value), { code: 'ERR_BUFFER_OPTIONS' });
  };
}

/**
 * Check a dedupe key.
 * @param value - the key (undefined → null)
 * @returns the key or null
 * @throws BufferError `ERR_BUFFER_INVALID_INPUT`
 */
export function dedupeInput(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) {
    throw new BufferError(`dedupeKey must be a non-empty string of at most 512 characters, got ${String(value)}`, {
      code: 'ERR_BUFFER_INVALID_INPUT',
    });
  }
  return value;
}

/** Default `maxPayloadBytes` of every buffer: 1 MiB of serialised JSON. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576;

/**
 * Check a `maxPayloadBytes` option.
 * @param value - the option value (undefined → 1 MiB)
 * @param owner - the class reading it
 * @returns the resolved limit
 * @throws BufferError `ERR_BUFFER_OPTIONS`
 */
export function maxPayloadOption(value: unknown, owner: string): number {
  if (value === undefined) return DEFAULT_MAX_PAYLOAD_BYTES;
  optionCheck(owner)(
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 1,
    'maxPayloadBytes',
    'an integer >= 1',
    value,
  );
  return value as number;
}

/**
 * Check a push's job options and build the job to insert (payload already serialised).
 * @param type - task type, or null for a raw queue job
 * @param payload - the serialised payload
 * @param options - priority, delayMs, maxAttempts, dedupeKey as given
 * @param now - push time, epoch ms
 * @param maxAttempts - the queue's default attempt budget
 * @returns the job
 * @throws BufferError `ERR_BUFFER_INVALID_INPUT` naming the bad field
 */
export function jobInput(
  type: string | null,
  payload: string,
  options: { priority?: unknown; delayMs?: unknown; maxAttempts?: unknown; dedupeKey?: unknown },
  now: number,
  maxAttempts: number,
): InsertJob {
  return {
    type,
    payload,
    priority: intInput(options.priority, 'priority', 0),
    runAt: now + msInput(options.delayMs, 'delayMs', 0),
    maxAttempts: intInput(options.maxAttempts, 'maxAttempts', maxAttempts, 1),
    dedupeKey: dedupeInput(options.dedupeKey),
  };
}

/**
 * The states and cutoff of a `cleanup({ maxAgeDays, includeDead })` call.
 * @param options - `maxAgeDays` (default 7), `includeDead`
 * @param includeDeadByDefault - whether dead jobs go too when `includeDead` is not given
 * @returns final states to delete, and the epoch-ms cutoff
 */
export function cleanupRange(
  options: { maxAgeDays?: number; includeDead?: boolean },
  includeDeadByDefault: boolean,
): { states: ('done' | 'dead')[]; before: number } {
  const days = msInput(options.maxAgeDays, 'maxAgeDays', 7);
  const dead = options.includeDead ?? includeDeadByDefault;
  return { states: dead ? ['done', 'dead'] : ['done'], before: Date.now() - days * 86_400_000 };
}

/**
 * Check a queue name.
 * @param name - the name
 * @param option - option name for the error message
 * @param owner - the class reading it
 */
export function checkQueueName(name: unknown, option: string, owner: string): void {
  optionCheck(owner)(
    typeof name === 'string' && name.length > 0 && name.length <= 200,
    option,
    'a non-empty string of at most 200 characters',
    name,
  );
}

/**
 * Check the store options every SQLite buffer shares.
 * @param o - options holding dataDir, file, durability and busyTimeoutMs
 * @param owner - the class reading them
 */
export function checkStoreOptions(
  o: { durability: unknown; busyTimeoutMs: unknown; dataDir: unknown; file?: unknown },
  owner: string,
): void {
  const check = optionCheck(owner);
  const bad = openSettingsProblem(o);
  if (bad !== null) check(false, bad.option, bad.expected, o[bad.option as 'durability' | 'busyTimeoutMs']);
  check(typeof o.dataDir === 'string' && o.dataDir.length > 0, 'dataDir', 'a non-empty string', o.dataDir);
  check(
    o.file === undefined || (typeof o.file === 'string' && o.file.length > 0),
    'file',
    'a non-empty string',
    o.file,
  );
}
