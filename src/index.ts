/**
 * gatehouse: the one public entry. Named exports only; every capability exposes its API through its own
 * folder's index.ts and is re-exported here.
 */
export { z } from 'zod';
export { GatehouseError } from './errors.js';
export type { GatehouseErrorOptions } from './errors.js';
export { createLogger } from './logger.js';
export type { Logger, LoggerConfig } from './logger.js';

// Database (src/database): the SQLite layer.
export { Database, DatabaseError, IDENTIFIER_PATTERN } from './database/index.js';
export type {
  BindParams,
  DatabaseErrorCode,
  DatabaseOptions,
  Durability,
  FetchOptions,
  Migration,
  Row,
  RunResult,
  SqlValue,
  TableDeclarations,
  UpsertOptions,
  Where,
  WhereObject,
  WhereSql,
} from './database/index.js';
