/**
 * Enforcer: runtime contracts (`enforce`), handler registration rules (`checkHandlerRegistration`) and the
 * static export check behind `gatehouse check` (`checkProject`).
 */
export { enforce, MAX_PARAMETERS } from './enforce.js';
export type { Enforce, EnforceSpec, EnforcedArgs, EnforcedReturn } from './enforce.js';
export { EnforcementError } from './errors.js';
export type { EnforcementErrorCode, EnforcementErrorOptions, EnforcementIssue } from './errors.js';
export { configureEnforcer, getEnforceMode } from './mode.js';
export type { EnforceConfig, EnforceMode } from './mode.js';
export { checkHandlerRegistration } from './handler-rules.js';
export type { HandlerKind, HandlerRegistration } from './handler-rules.js';
export { checkProject, formatProblem } from './check.js';
export type { CheckOptions, CheckProblem, CheckResult, CheckRule } from './check.js';
export { runCheckCommand, CHECK_USAGE } from './check-command.js';
