/**
 * What other gatehouse capabilities and the CLI use from the enforcer, and users do not import: the handler
 * registration rules (portal endpoints and events, TaskBuffer tasks), the process-wide mode, the error table and
 * the static check behind `gatehouse check`.
 */
export { MAX_PARAMETERS } from './enforce.js';
export { ENFORCEMENT_ERRORS } from './errors.js';
export { ENFORCE_MODES, configureEnforcer, getEnforceMode, isEnforceModeExplicit } from './mode.js';
export { checkHandlerRegistration } from './handler-rules.js';
export type { HandlerCheckScope, HandlerKind, HandlerRegistration } from './handler-rules.js';
export { checkProject, formatProblem } from './check.js';
export type { CheckOptions, CheckProblem, CheckResult, CheckRule } from './check.js';
export { SUPPORTED_TYPESCRIPT } from './check-types.js';
export { runCheckCommand, CHECK_USAGE } from './check-command.js';
export type { EnforceMode } from './mode.js';
