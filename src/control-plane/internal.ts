/**
 * The control plane's names other parts need (the `gatehouse control-plane` CLI, tests of the store) but users
 * do not import. Users import `index.ts` (`gatehouse/control-plane`).
 */
export { CONTROL_PLANE_ERRORS } from './errors.js';
export { DEFAULTS as CONTROL_PLANE_DEFAULTS } from './options.js';
export { statusObject } from './protocol.js';
export type { StatusFrame } from './protocol.js';
export type { ProjectStore, StoreEvent, StoreSnapshot } from './store.js';
export { CONTROL_DB_FILE } from './store-sqlite.js';
export type { FailMode, TokenRecord } from './types.js';
export { runControlPlaneCommand } from './cli.js';
export { CLOSE_INVALID_TOKEN, CLOSE_REVOKED } from './close-codes.js';
