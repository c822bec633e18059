/**
 * gatehouse: the one public entry. Named exports only; every capability exposes its API through its own
 * folder's index.ts and is re-exported here.
 */
export { z } from 'zod';
export { GatehouseError } from './errors.js';
export type { GatehouseErrorOptions } from './errors.js';
export { createLogger } from './logger.js';
export type { Logger, LoggerConfig } from './logger.js';
