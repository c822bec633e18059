/**
 * The options kit: one way for every capability to resolve its options over a `DEFAULTS` object and to refuse a
 * bad value, with one message shape that names the option and what it accepts:
 *
 *     TaskBuffer: option "workers" must be an integer from 1 to 1000 (got 0)
 *
 * Each capability binds the kit once to its owner name and its own error (`optionChecks('TaskBuffer', (m) =>
 * new BufferError(m, { code: 'ERR_BUFFER_OPTIONS' }))`), then calls the checks while resolving.
 */

/**
 * A shallow copy of `o` without the fields whose value is `undefined`, so `{ ...DEFAULTS, ...definedFields(o) }`
 * keeps a default wherever the user passed `undefined`.
 * @param o - user options (undefined gives `{}`)
 * @returns the defined fields
 */
export function definedFields<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (o) for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * `DEFAULTS` overlaid with the fields of `options` that are not `undefined`.
 * @param defaults - the documented defaults
 * @param options - what the user passed (may be undefined)
 * @returns the merged options (not yet validated)
 */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O | undefined): D & O {
  return { ...defaults, ...definedFields(options) } as D & O;
}

/** A short, log-safe description of a value for an option message (strings are cut at 40 characters). */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/**
 * The one message shape for a refused option.
 * @param owner - who reads the option (`TaskBuffer`, `ServicePortal`, ...)
 * @param option - the option's path (`workers`, `backoff.delayMs`)
 * @param accepts - what it accepts, as a phrase (`an integer from 1 to 1000`)
 * @param got - the value given
 */
export function optionMessage(owner: string, option: string, accepts: string, got: unknown): string {
  return `${owner}: option "${option}" must be ${accepts} (got ${describeValue(got)})`;
}

/** Bounds of a numeric option (inclusive). */
export interface NumberBounds {
  /** Smallest accepted value. */
  min?: number;
  /** Largest accepted value. */
  max?: number;
}

/** The checks a capability binds to its owner name and error; each returns the value it accepted. */
export interface OptionChecks {
  /** Throw the capability's error for `option`, saying what it `accepts`. */
  fail(option: string, accepts: string, got: unknown): never;
  /** A finite number within the bounds. */
  number(option: string, value: unknown, bounds?: NumberBounds): number;
  /** An integer within the bounds. */
  int(option: string, value: unknown, bounds?: NumberBounds): number;
  /** A boolean. */
  bool(option: string, value: unknown): boolean;
  /** A string (non-empty unless `allowEmpty`). */
  string(option: string, value: unknown, allowEmpty?: boolean): string;
  /** A function. */
  func<F extends (...args: never[]) => unknown>(option: string, value: unknown): F;
  /** One of the listed values. */
  oneOf<T extends string | number | boolean>(option: string, value: unknown, choices: readonly T[]): T;
  /** A plain object (not an array, not null). */
  object(option: string, value: unknown): Record<string, unknown>;
}

function range(bounds: NumberBounds | undefined, kind: string): string {
  const { min, max } = bounds ?? {};
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min !== undefined) return min === 0 ? `${kind} ≥ 0` : `${kind} ≥ ${min}`;
  if (max !== undefined) return `${kind} ≤ ${max}`;
  return kind;
}

function inBounds(n: number, bounds: NumberBounds | undefined): boolean {
  return (bounds?.min === undefined || n >= bounds.min) && (bounds?.max === undefined || n <= bounds.max);
}

/**
 * The option checks for one owner, throwing the error `makeError` builds from the message.
 * @param owner - who reads the options, first word of every message
 * @param makeError - builds the capability's error (with its `*_OPTIONS` code) from the message
 * @example
 * ```ts
 * const check = optionChecks('Executor', (m) => new BackgroundError(m, { code: 'ERR_BACKGROUND_OPTIONS' }));
 * const threads = check.int('threads', o.threads, { min: 1, max: 64 });
 * ```
 */
export function optionChecks(owner: string, makeError: (message: string) => Error): OptionChecks {
  const fail = (option: string, accepts: string, got: unknown): never => {
    throw makeError(optionMessage(owner, option, accepts, got));
  };
  return {
    fail,
    number(option, value, bounds) {
      if (typeof value !== 'number' || !Number.isFinite(value) || !inBounds(value, bounds))
        fail(option, range(bounds, 'a finite number'), value);
      return value as number;
    },
    int(option, value, bounds) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || !inBounds(value, bounds))
        fail(option, range(bounds, 'an integer'), value);
      return value as number;
    },
    bool(option, value) {
      if (typeof value !== 'boolean') fail(option, 'true or false', value);
      return value as boolean;
    },
    string(option, value, allowEmpty = false) {
      if (typeof value !== 'string' || (!allowEmpty && value.length === 0))
        fail(option, allowEmpty ? 'a string' : 'a non-empty string', value);
      return value as string;
    },
    func<F extends (...args: never[]) => unknown>(option: string, value: unknown): F {
      if (typeof value !== 'function') fail(option, 'a function', value);
      return value as F;
    },
    oneOf<T extends string | number | boolean>(option: string, value: unknown, choices: readonly T[]): T {
      if (!choices.includes(value as T))
        fail(option, `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`, value);
      return value as T;
    },
    object(option, value) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(option, 'an object', value);
      return value as Record<string, unknown>;
    },
  };
}
