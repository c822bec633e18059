/**
 * The schema of the SQLite queue store (`sqlite-store.ts`): the jobs and schedules tables, their partial indexes,
 * and the check that runs when a file is opened (WAL on, schema version not newer than this gatehouse).
 */
import type BetterSqlite3 from 'better-sqlite3';
import { BufferError } from '../errors.js';

/** The schema version written to `user_version`; a file with a newer one is refused. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id           INTEGER PRIMARY KEY,
  queue        TEXT    NOT NULL,
  type         TEXT,
  state        TEXT    NOT NULL CHECK (state IN ('pending','active','done','failed','dead')),
  priority     INTEGER NOT NULL DEFAULT 0,
  run_at       INTEGER NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  lease_until  INTEGER,
  lease_token  INTEGER,
  payload      TEXT    NOT NULL,
  last_error   TEXT,
  dedupe_key   TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  finished_at  INTEGER
);
-- Every index is partial, so a push touches two b-trees (table + jobs_ready): fewer pages per commit.
-- The claim query walks this index in claim order and stops at the first ready rows (state makes it
-- covering for stats()).
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (queue, priority DESC, run_at, id, state) WHERE state IN ('pending','failed');
-- Expired-lease recovery looks only at active rows.
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (queue, lease_until) WHERE state = 'active';
-- Final rows: stats() counts, cleanup() ranges and dead-letter listing.
CREATE INDEX IF NOT EXISTS jobs_final ON jobs (queue, state, finished_at) WHERE state IN ('done','dead');
-- A dedupe key is unique among the live (not final) jobs of a queue.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_dedupe ON jobs (queue, dedupe_key)
  WHERE dedupe_key IS NOT NULL AND state IN ('pending','active','failed');
-- Durable schedules (TaskBuffer.schedule): one row per queue and name. A slot is claimed by moving
-- next_run_at in the same transaction that inserts its job (see claimSchedule).
CREATE TABLE IF NOT EXISTS schedules (
  queue       TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  definition  TEXT    NOT NULL,
  rev         INTEGER NOT NULL,
  next_run_at INTEGER,
  last_run_at INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (queue, name)
) WITHOUT ROWID;
`;

/**
 * Check that the file is in WAL mode and not newer than this gatehouse, then create what is missing.
 * @param db - the store's connection
 * @param file - the file path, for error messages
 * @throws BufferError `ERR_BUFFER_STORE` when WAL is off or the schema version is newer
 */
export function applySchema(db: BetterSqlite3.Database, file: string): void {
  const mode = db.pragma('journal_mode', { simple: true });
  if (String(mode).toLowerCase() !== 'wal') {
    throw new BufferError(`queue store ${file} could not switch to WAL (got ${String(mode)})`, {
      code: 'ERR_BUFFER_STORE',
    });
  }
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw new BufferError(
      `queue store ${file} has schema version ${version}, newer than this gatehouse (${SCHEMA_VERSION})`,
      { code: 'ERR_BUFFER_STORE' },
    );
  }
  db.exec(SCHEMA);
  if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
}
