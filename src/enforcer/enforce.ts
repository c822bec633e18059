import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { EnforcementError, type EnforcementErrorCode, type EnforcementIssue } from './errors.js';
import { configureEnforcer, enforcerLogger, getEnforceMode, type EnforceConfig, type EnforceMode } from './mode.js';

/** Most parameters an enforced function (or a checked export) may declare. */
export const MAX_PARAMETERS = 8;

/** The contract of an enforced function. */
export interface EnforceSpec<A extends readonly z.ZodType[], R extends z.ZodType> {
  /** What the function does, in one sentence. Required and non-empty. */
  description: string;
  /** One schema per declared parameter; `args.length` must equal `fn.length`. */
  args: A;
  /** Schema of the return value (of the resolved value for async functions). Use `z.void()` for none. */
  returns: R;
  /** Name used in errors and logs. @defaultValue `fn.name`, else `'anonymous (file:line:col)'` of the enforce() call */
  name?: string;
}

/** The parameter tuple an `args` list of schemas describes. */
export type EnforcedArgs<A extends readonly z.ZodType[]> = { -readonly [K in keyof A]: z.input<A[K]> };

/** What an enforced function may return for a `returns` schema: the value, or a promise of it. */
export type EnforcedReturn<R extends z.ZodType> = z.input<R> | Promise<z.input<R>>;

/** The `enforce` function with its `configure` helper attached. */
export interface Enforce {
  /** Wrap `fn` so its arguments and return value are checked against `spec` on every call. */
  <
    const A extends readonly z.ZodType[],
    R extends z.ZodType,
    F extends (...args: EnforcedArgs<A>) => EnforcedReturn<R>,
  >(
    spec: EnforceSpec<A, R>,
    fn: F,
  ): F;
  /** Set the process-wide mode (`strict` / `warn` / `off`) and logger. */
  configure(config: EnforceConfig): void;
  /** The mode in force now. */
  mode(): EnforceMode;
}

type Parsed = { success: true; data: unknown } | { success: false; error: { issues: readonly ZodIssueLike[] } };
interface Schema {
  safeParse(value: unknown): Parsed;
}
interface ZodIssueLike {
  code: string;
  message: string;
  path: readonly PropertyKey[];
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && typeof (value as Schema).safeParse === 'function';
}

function toIssues(issues: readonly ZodIssueLike[]): EnforcementIssue[] {
  return issues.map((i) => ({ code: i.code, message: i.message, path: i.path.slice() }));
}

function validationError(
  code: EnforcementErrorCode,
  name: string,
  prefix: readonly PropertyKey[],
  issues: readonly ZodIssueLike[],
): EnforcementError {
  const first = issues[0];
  const path = first === undefined ? prefix.slice() : [...prefix, ...first.path];
  const err = new EnforcementError('', { code, functionName: name, path, issues: toIssues(issues) });
  const more = issues.length > 1 ? ` (+${issues.length - 1} more)` : '';
  const what = code === 'ERR_ENFORCE_ARGS' ? 'argument' : 'return value';
  // The message needs pathText, which the error computes; set it afterwards.
  err.message = `${name}: invalid ${what} at ${err.pathText}: ${first?.message ?? 'rejected'}${more}`;
  return err;
}

function tooManyArgsError(name: string, expected: number, got: number): EnforcementError {
  const err = new EnforcementError('', {
    code: 'ERR_ENFORCE_ARGS',
    functionName: name,
    path: [expected],
    issues: [{ code: 'too_big', message: `expected at most ${expected} arguments, got ${got}`, path: [] }],
  });
  err.message = `${name}: invalid argument at ${err.pathText}: expected at most ${expected} arguments, got ${got}`;
  return err;
}

/** Definition-time rules; returns the problems found (empty when the contract is sound). */
function definitionProblems(spec: unknown, fn: unknown): string[] {
  const problems: string[] = [];
  if (typeof fn !== 'function') return ['fn must be a function'];
  if (typeof spec !== 'object' || spec === null)
    return ['the contract must be an object { description, args, returns }'];
  const { description, args, returns } = spec as Partial<EnforceSpec<readonly z.ZodType[], z.ZodType>>;
  if (typeof description !== 'string' || description.trim() === '') problems.push('description is missing or empty');
  if (fn.length > MAX_PARAMETERS)
    problems.push(`declares ${fn.length} parameters; at most ${MAX_PARAMETERS} are allowed`);
  if (!Array.isArray(args)) problems.push('args must be an array of zod schemas (one per parameter)');
  else {
    const bad = args.findIndex((s) => !isSchema(s));
    if (bad !== -1) problems.push(`args[${bad}] is not a zod schema`);
    if (args.length !== fn.length) {
      problems.push(`args has ${args.length} schema(s) but the function declares ${fn.length} parameter(s)`);
    }
  }
  if (returns === undefined) problems.push('returns is missing (use z.void() for functions that return nothing)');
  else if (!isSchema(returns)) problems.push('returns is not a zod schema');
  return problems;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value instanceof Promise ||
    (typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function')
  );
}

/** Where `enforce()` was called (`file:line:col` relative to cwd), to name anonymous functions. Definition time only. */
function definitionSite(): string {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  const frame = stack.find((line) => !/[\\/]enforcer[\\/]enforce\.[cm]?[jt]s/.test(line)) ?? '';
  const match = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?\s*$/.exec(frame);
  if (!match) return 'unknown site';
  const file = match[1]!.startsWith('file://') ? fileURLToPath(match[1]!) : match[1]!;
  const rel = path.relative(process.cwd(), file).split(path.sep).join('/');
  return `${rel.startsWith('..') ? file : rel}:${match[2]}:${match[3]}`;
}

function enforceImpl(spec: unknown, fn: unknown): unknown {
  const mode = getEnforceMode();
  if (mode === 'off') return fn;

  const name =
    String((spec as { name?: unknown } | null)?.name ?? (fn as { name?: string } | null)?.name ?? '') ||
    `anonymous (${definitionSite()})`;
  const problems = definitionProblems(spec, fn);
  if (problems.length > 0) {
    const message = `enforce(${name}): ${problems.join('; ')}`;
    if (mode === 'strict' || typeof fn !== 'function') {
      throw new EnforcementError(message, { code: 'ERR_ENFORCE_DEFINITION', functionName: name });
    }
    enforcerLogger().warn({ code: 'ERR_ENFORCE_DEFINITION', function: name, problems }, message);
  }
  const target = fn as (...args: unknown[]) => unknown;
  const { args, returns } = (spec ?? {}) as { args?: unknown; returns?: unknown };
  // Precompute everything a call needs; in warn mode check only what the contract gives us.
  const argSchemas: readonly Schema[] = Array.isArray(args) && args.every(isSchema) ? args.slice() : [];
  const checkArity = Array.isArray(args) && argSchemas.length === args.length && args.length === target.length;
  const arity = argSchemas.length;
  const returnSchema: Schema | undefined = isSchema(returns) ? returns : undefined;
  const isAsync = Object.prototype.toString.call(target) === '[object AsyncFunction]';
  let warnedArgs = false;
  let warnedReturn = false;

  const report = (err: EnforcementError): void => {
    if (getEnforceMode() === 'strict') throw err;
    const first = err.code === 'ERR_ENFORCE_ARGS' ? !warnedArgs : !warnedReturn;
    if (err.code === 'ERR_ENFORCE_ARGS') warnedArgs = true;
    else warnedReturn = true;
    if (first) {
      enforcerLogger().warn(
        { code: err.code, function: name, path: err.pathText, issues: err.issues },
        `${err.message} (logged once per function)`,
      );
    }
  };

  const checkResult = (value: unknown): unknown => {
    const r = returnSchema!.safeParse(value);
    if (!r.success) report(validationError('ERR_ENFORCE_RETURN', name, [], r.error.issues));
    return value;
  };

  /** A failed argument check: throws (strict), rejects (strict, async fn) or logs and lets the call go on (warn). */
  const argFailure = (err: EnforcementError): Promise<never> | undefined => {
    if (isAsync && getEnforceMode() === 'strict') return Promise.reject(err);
    report(err);
    return undefined;
  };
  const badArg = (i: number, issues: readonly ZodIssueLike[]): Promise<never> | undefined =>
    argFailure(validationError('ERR_ENFORCE_ARGS', name, [i], issues));
  /** Argument `i` checked: undefined when the call goes on, else its rejection. */
  const checked = (i: number, r: Parsed): Promise<never> | undefined =>
    r.success ? undefined : badArg(i, r.error.issues);

  const finish = (result: unknown): unknown => {
    if (returnSchema === undefined) return result;
    if (isThenable(result)) return Promise.resolve(result).then(checkResult);
    return checkResult(result);
  };

  // Any arity, any argument count, and the pass-through once the mode is switched to off.
  const generic = function (this: unknown, ...args: unknown[]): unknown {
    if (getEnforceMode() === 'off') return target.apply(this, args);
    // Each argument is checked on its own schema: no tuple schema, no copies of the arguments.
    for (let i = 0; i < arity; i++) {
      const r = argSchemas[i]!.safeParse(args[i]);
      if (!r.success) {
        const rejected = badArg(i, r.error.issues);
        if (rejected) return rejected;
        break;
      }
    }
    if (checkArity && args.length > arity) {
      const rejected = argFailure(tooManyArgsError(name, arity, args.length));
      if (rejected) return rejected;
    }
    return finish(target.apply(this, args));
  };

  // Fast paths for the common arities when called with exactly the declared arguments: named parameters
  // instead of a rest array and apply(). Anything else goes through `generic`, which sees the real arguments.
  /* eslint-disable prefer-rest-params -- forwarding `arguments` avoids allocating a rest array on the fast path */
  const [s0, s1, s2] = argSchemas;
  let wrapped: (this: unknown, ...args: never[]) => unknown = generic;
  // Only the first failing argument is reported (and later ones are not parsed), as in `generic`.
  if (arity === 0) {
    wrapped = function (this: unknown): unknown {
      if (arguments.length !== 0 || getEnforceMode() === 'off') return generic.apply(this, arguments as never);
      return finish(target.call(this));
    };
  } else if (arity === 1) {
    wrapped = function (this: unknown, a0: unknown): unknown {
      if (arguments.length !== 1 || getEnforceMode() === 'off') return generic.apply(this, arguments as never);
      return checked(0, s0!.safeParse(a0)) ?? finish(target.call(this, a0));
    };
  } else if (arity === 2) {
    wrapped = function (this: unknown, a0: unknown, a1: unknown): unknown {
      if (arguments.length !== 2 || getEnforceMode() === 'off') return generic.apply(this, arguments as never);
      const r0 = s0!.safeParse(a0);
      return (r0.success ? checked(1, s1!.safeParse(a1)) : checked(0, r0)) ?? finish(target.call(this, a0, a1));
    };
  } else if (arity === 3) {
    wrapped = function (this: unknown, a0: unknown, a1: unknown, a2: unknown): unknown {
      if (arguments.length !== 3 || getEnforceMode() === 'off') return generic.apply(this, arguments as never);
      const r0 = s0!.safeParse(a0);
      const r1 = r0.success ? s1!.safeParse(a1) : r0;
      const rejected = !r0.success ? checked(0, r0) : !r1.success ? checked(1, r1) : checked(2, s2!.safeParse(a2));
      return rejected ?? finish(target.call(this, a0, a1, a2));
    };
  }
  /* eslint-enable prefer-rest-params */
  Object.defineProperty(wrapped, 'name', { value: target.name, configurable: true });
  Object.defineProperty(wrapped, 'length', { value: target.length, configurable: true });
  return wrapped;
}

/**
 * Wrap a function with a runtime contract: a description, one zod schema per parameter and a schema for the
 * return value (checked on the resolved value for async functions). The contract itself is checked at once
 * (definition time); arguments and results on every call. Values are validated, not transformed: the
 * function receives exactly what the caller passed, and the caller gets exactly what the function returned.
 *
 * In `off` mode the original function object is returned unchanged (zero overhead).
 *
 * @example
 * ```ts
 * const createUser = enforce({
 *   description: 'Creates a new user record',
 *   args: [z.string().min(1), z.number().int().nonnegative()],
 *   returns: z.object({ name: z.string(), age: z.number() }),
 * }, (name, age) => ({ name, age }));
 * createUser('Ann', -1); // throws EnforcementError { code: 'ERR_ENFORCE_ARGS', path: [1], pathText: 'args[1]' }
 * ```
 */
export const enforce: Enforce = Object.assign(enforceImpl as Enforce, {
  configure: configureEnforcer,
  mode: getEnforceMode,
});
