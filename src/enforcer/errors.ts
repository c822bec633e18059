import { CodedError, type ErrorTable } from '../errors.js';

/**
 * The enforcer's error table: status and title per code. Broken contracts are programming errors of the service
 * itself, so every code is a 500 if one ever reaches a client.
 */
export const ENFORCEMENT_ERRORS = {
  /** `enforce()` was given a contract that breaks a definition-time rule. */
  ERR_ENFORCE_DEFINITION: { status: 500, title: 'Invalid contract' },
  /** An enforced function was called with arguments its `args` schemas reject. */
  ERR_ENFORCE_ARGS: { status: 500, title: 'Arguments break the contract' },
  /** An enforced function returned (or resolved to) a value its `returns` schema rejects. */
  ERR_ENFORCE_RETURN: { status: 500, title: 'Return value breaks the contract' },
  /** An endpoint, event or task handler was registered without a description or input schema. */
  ERR_ENFORCE_HANDLER: { status: 500, title: 'Handler without description or input schema' },
  /**
   * An invalid mode or logger was given to `enforce.configure()` or `GATEHOUSE_ENFORCE`, or `gatehouse check`
   * cannot run (no such directory, unreadable tsconfig.json, TypeScript missing or unsupported).
   */
  ERR_ENFORCE_CONFIG: { status: 500, title: 'Invalid enforcer configuration' },
} as const satisfies ErrorTable<string>;

/** Codes of the enforcer: the keys of {@link ENFORCEMENT_ERRORS}. */
export type EnforcementErrorCode = keyof typeof ENFORCEMENT_ERRORS;

/** Options of an {@link EnforcementError}. */
export interface EnforcementErrorOptions {
  /** Which rule failed. */
  code: EnforcementErrorCode;
  /** Name of the enforced function or handler. */
  functionName: string;
  /**
   * Where the failing value sits. For `ERR_ENFORCE_ARGS` the first element is the argument index
   * (`[1, 'name']`); for `ERR_ENFORCE_RETURN` it is the path inside the returned value (`['name']`).
   * @defaultValue []
   */
  path?: readonly PropertyKey[];
  /** Every issue zod reported, paths relative to the checked value. @defaultValue [] */
  issues?: readonly EnforcementIssue[];
  /** The underlying error, if any. */
  cause?: unknown;
}

/** One validation problem, as reported by zod. */
export interface EnforcementIssue {
  /** Zod issue code, e.g. `'too_small'`. */
  readonly code: string;
  /** Human-readable message from zod. */
  readonly message: string;
  /** Path inside the checked value. */
  readonly path: readonly PropertyKey[];
}

/**
 * Thrown when a runtime contract is broken: a bad `enforce()` definition, arguments or a return value that
 * fail their schema, or a handler registered without a description or input schema (strict mode).
 *
 * @example
 * ```ts
 * try { createUser('Ann', -1); }
 * catch (err) {
 *   if (err instanceof EnforcementError && err.code === 'ERR_ENFORCE_ARGS') console.log(err.pathText); // 'args[1]'
 * }
 * ```
 */
export class EnforcementError extends CodedError<EnforcementErrorCode> {
  /** Name of the enforced function or handler. */
  readonly functionName: string;
  /** Where the failing value sits: `[argIndex, ...]` for arguments, the path in the value for returns. */
  readonly path: readonly PropertyKey[];
  /** The same location as text: `'args[1].name'`, `'return.items[0]'`, or `''` when not about a value. */
  readonly pathText: string;
  /** Every issue zod reported for the failing value. */
  readonly issues: readonly EnforcementIssue[];

  constructor(message: string, options: EnforcementErrorOptions) {
    super(message, { code: options.code, cause: options.cause }, ENFORCEMENT_ERRORS);
    this.functionName = options.functionName;
    this.path = options.path ?? [];
    this.issues = options.issues ?? [];
    this.pathText = formatPath(options.code, this.path);
  }
}

/** Render a value path as `args[1].name` / `return.name`. */
function formatPath(code: EnforcementErrorCode, path: readonly PropertyKey[]): string {
  if (code === 'ERR_ENFORCE_ARGS') {
    const [index, ...rest] = path;
    return `args[${String(index)}]${formatKeys(rest)}`;
  }
  if (code === 'ERR_ENFORCE_RETURN') return `return${formatKeys(path)}`;
  return '';
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Render object keys and array indexes as property-access text. */
export function formatKeys(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key)) out += `.${key}`;
    else out += `[${typeof key === 'symbol' ? key.toString() : JSON.stringify(key)}]`;
  }
  return out;
}
