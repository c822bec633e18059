/**
 * What other gatehouse capabilities and the CLI use from the enforcer, and users do not import: the handler
 * registration rules (portal endpoints and events, TaskBuffer tasks), the process-wide mode, the error table and
 * the static check behind `gatehouse check`.
 */
import type * as Check from './check.js';
import type * as CheckCommand from './check-command.js';

export { MAX_PARAMETERS } from './enforce.js';
export { ENFORCEMENT_ERRORS } from './errors.js';
export { ENFORCE_MODES, configureEnforcer, getEnforceMode, isEnforceModeExplicit } from './mode.js';
export { checkHandlerRegistration } from './handler-rules.js';
export type { HandlerCheckScope, HandlerKind, HandlerRegistration } from './handler-rules.js';
export type { CheckOptions, CheckProblem, CheckResult, CheckRule } from './check.js';
export { SUPPORTED_TYPESCRIPT } from './check-types.js';
export type { EnforceMode } from './mode.js';

/**
 * `gatehouse check` as the CLI runs it. The checker (and TypeScript) load when it runs, never with the handler
 * rules the portal and TaskBuffer import from here.
 */
export async function runCheckCommand(...args: Parameters<typeof CheckCommand.runCheckCommand>): Promise<number> {
  return (await import('./check-command.js')).runCheckCommand(...args);
}

/** The static export check of a project folder (the checker loads on the first call). */
export async function checkProject(
  ...args: Parameters<typeof Check.checkProject>
): ReturnType<typeof Check.checkProject> {
  return (await import('./check.js')).checkProject(...args);
}
