/**
 * gatehouse/enforcer: runtime contracts. `enforce()` wraps a function with a description and zod schemas for
 * its arguments and result; `EnforcementError` is what a broken contract throws. The CLI's `gatehouse check` and
 * the handler rules other capabilities apply live in `internal.ts`. Importing this entry loads neither zod nor
 * TypeScript.
 */
export { enforce } from './enforce.js';
export type { Enforce, EnforceSpec, EnforcedArgs, EnforcedReturn } from './enforce.js';
export { EnforcementError } from './errors.js';
export type { EnforcementErrorCode, EnforcementErrorOptions, EnforcementIssue } from './errors.js';
export type { EnforceConfig, EnforceMode } from './mode.js';
