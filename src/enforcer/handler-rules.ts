import type { Logger } from '../logger.js';
import { EnforcementError } from './errors.js';
import { enforcerLogger, getEnforceMode, isEnforceModeExplicit, type EnforceMode } from './mode.js';

/** What kind of handler is being registered. */
export type HandlerKind = 'endpoint' | 'event' | 'task';

/** A handler registration to check against the enforcer's rules. */
export interface HandlerRegistration {
  /** Endpoint, realtime event or task handler. */
  kind: HandlerKind;
  /** Route path, event name or task name: used in errors and logs. */
  name: string;
  /** The handler's description; must be a non-empty string. */
  description?: unknown;
  /** The handler's input schema; must be a zod schema (anything with `safeParse`). */
  input?: unknown;
  /** The handler itself; when given it must be a function. */
  handler?: unknown;
  /**
   * A task handler given as a plain function, where a definition could have been given (TaskBuffer `handlers`):
   * it has nowhere to carry a description or schema. Under the built-in default mode such a handler is not
   * reported (it is the documented simple form, typed by TypeScript, and a task's data comes from the
   * application, not from the network); a mode chosen on purpose (`'warn'` lists it, `'strict'` refuses it)
   * applies as to any other handler. @defaultValue false
   */
  plain?: boolean;
  /**
   * Override the process-wide mode for this check (e.g. from a portal option). A mode given in the second
   * argument of `checkHandlerRegistration` wins over this one.
   * @defaultValue `enforce.mode()` when it was chosen explicitly (`GATEHOUSE_ENFORCE`, `enforce.configure`), else `'warn'`
   */
  mode?: EnforceMode;
}

/**
 * What an owner (a portal, a TaskBuffer) passes so its checks depend on nothing process-wide: its own mode, its
 * own record of what was already reported, its own logger.
 */
export interface HandlerCheckScope {
  /** The owner's mode. @defaultValue the registration's `mode`, else as {@link HandlerRegistration.mode} says */
  mode?: EnforceMode;
  /**
   * Warn-mode reports already logged for this owner (keys made by the check); each handler is reported once per
   * set. @defaultValue one set for the whole process, shared by every caller that passes none
   */
  reported?: Set<string>;
  /** Where warn-mode reports go. @defaultValue the enforcer's logger (`enforce.configure({ logger })`) */
  logger?: Logger;
}

/**
 * Reports of callers that pass no `reported` set of their own. Process-wide on purpose: it keeps the older
 * one-argument call (`checkHandlerRegistration(registration)`) reporting each handler once; owners pass their own
 * set to share nothing.
 */
const processReported = new Set<string>();

/** A task handler given as a plain function (see {@link HandlerRegistration.plain}). */
function isPlainTask(registration: HandlerRegistration): boolean {
  return registration.kind === 'task' && registration.plain === true && typeof registration.handler === 'function';
}

/**
 * Apply the registration rules to an endpoint, event or task handler: it needs a non-empty description and
 * an input schema. In `strict` mode a violation throws `EnforcementError` (`ERR_ENFORCE_HANDLER`); in `warn`
 * mode it is logged once per handler; in `off` mode nothing is checked. Registration is refused only when strict
 * was chosen on purpose (`GATEHOUSE_ENFORCE=strict`, `enforce.configure`, or the caller's `mode`): with the
 * built-in default a missing description or schema is reported, so a new project starts without friction and a
 * team turns the rule into a gate by setting the mode in CI. The built-in default reports nothing for a
 * {@link HandlerRegistration.plain} function (a TaskBuffer's `handlers: { SEND: async (data) => ... }`).
 *
 * @param registration - the handler to check
 * @param scope - the owner's mode (`'strict'`, ...) or its {@link HandlerCheckScope}; leave it out to use the
 *   process-wide mode and report record
 * @returns the problems found (empty when the registration is fine, and always empty in `off` mode)
 * @example
 * ```ts
 * checkHandlerRegistration({ kind: 'endpoint', name: 'POST /api/greet', description, input, handler });
 * // a portal with its own mode and report record:
 * checkHandlerRegistration(registration, { mode: this.enforceMode, reported: this.reportedHandlers, logger });
 * ```
 */
export function checkHandlerRegistration(
  registration: HandlerRegistration,
  scope?: EnforceMode | HandlerCheckScope,
): readonly string[] {
  const own: HandlerCheckScope = typeof scope === 'string' ? { mode: scope } : (scope ?? {});
  const { mode: ownMode, reported = processReported, logger } = own;
  const chosen = ownMode ?? registration.mode ?? (isEnforceModeExplicit() ? getEnforceMode() : undefined);
  const mode = chosen ?? 'warn';
  if (mode === 'off') return [];
  if (chosen === undefined && isPlainTask(registration)) return [];
  const { kind, name, description, input, handler } = registration;
  const problems: string[] = [];
  if (typeof description !== 'string' || description.trim() === '') problems.push('description is missing or empty');
  if (input === undefined || input === null) problems.push('input schema is missing');
  else if (typeof (input as { safeParse?: unknown }).safeParse !== 'function')
    problems.push('input is not a zod schema');
  if (handler !== undefined && typeof handler !== 'function') problems.push('handler is not a function');
  if (problems.length === 0) return problems;

  const message = `${kind} '${name}': ${problems.join('; ')}`;
  if (mode === 'strict') {
    throw new EnforcementError(`${message} (set the enforce mode to 'warn' or 'off' to allow this)`, {
      code: 'ERR_ENFORCE_HANDLER',
      functionName: name,
    });
  }
  const key = `${kind}\u0000${name}`;
  if (!reported.has(key)) {
    reported.add(key);
    (logger ?? enforcerLogger()).warn({ code: 'ERR_ENFORCE_HANDLER', kind, handler: name, problems }, message);
  }
  return problems;
}
