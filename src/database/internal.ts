/**
 * What other capabilities need from the database layer and users do not: the shared connection layer (the
 * queue engine keeps its own tables in SQLite on it), the identifier rule and the settings check every opener
 * shares. Not part of `gatehouse/db`.
 */
export { acquire as openConnection, release as releaseConnection, openSettingsProblem } from './connection.js';
export type { OpenSettings, SharedConnection } from './connection.js';
export { IDENTIFIER_PATTERN } from './identifiers.js';
