/**
 * The schedules table of the SQLite queue store (`sqlite-store.ts`): its prepared statements and the two
 * BEGIN IMMEDIATE transactions, save (replace on a changed definition) and claim (move the slot and insert its
 * jobs together), made once per store connection.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { InsertResult, ScheduleClaim, ScheduleRecord, ScheduleSave } from '../engine.js';
import type { JobStatements } from './sqlite-jobs.js';

/** Prepared statements and transactions of the schedules table. */
export interface ScheduleStatements {
  save: (queue: string, name: string, definition: string, next: number | null) => ScheduleSave;
  claim: (queue: string, claim: ScheduleClaim) => InsertResult[] | null;
  remove: BetterSqlite3.Statement;
  list: BetterSqlite3.Statement;
}

/**
 * Prepare the schedule statements of a connection.
 * @param db - the store's connection
 * @param jobs - the jobs statements of the same connection (a claim inserts its jobs with them)
 * @returns the statements and transactions
 */
export function prepareSchedules(db: BetterSqlite3.Database, jobs: JobStatements): ScheduleStatements {
  const cols = 'name, definition, rev, next_run_at AS nextRunAt, last_run_at AS lastRunAt';
  const get = db.prepare(`SELECT ${cols} FROM schedules WHERE queue = ? AND name = ?`);
  const upsert = db.prepare(
    `INSERT INTO schedules (queue, name, definition, rev, next_run_at, last_run_at, created_at, updated_at)
       VALUES (@queue, @name, @definition, @rev, @next, NULL, @now, @now)
       ON CONFLICT (queue, name) DO UPDATE SET definition = @definition, rev = @rev, next_run_at = @next, updated_at = @now`,
  );
  const move = db.prepare(
    `UPDATE schedules SET next_run_at = @next, last_run_at = @last, updated_at = @now
       WHERE queue = @queue AND name = @name AND rev = @rev AND next_run_at IS @expect`,
  );
  const save = db.transaction((queue: string, name: string, definition: string, next: number | null): ScheduleSave => {
    const old = get.get(queue, name) as ScheduleRecord | undefined;
    if (old && old.definition === definition) return { record: old, changed: false };
    const rev = old ? old.rev + 1 : 1;
    upsert.run({ queue, name, definition, rev, next, now: Date.now() });
    return {
      record: { name, definition, rev, nextRunAt: next, lastRunAt: old ? old.lastRunAt : null },
      changed: true,
    };
  }).immediate as never;
  const claim = db.transaction((queue: string, c: ScheduleClaim): InsertResult[] | null => {
    const now = Date.now();
    const r = c.record;
    // The claim: only the transaction that still finds the slot it read moves it, and only it inserts.
    if (
      move.run({ queue, name: r.name, rev: r.rev, expect: r.nextRunAt, next: c.nextRunAt, last: c.lastRunAt, now })
        .changes !== 1
    )
      return null;
    return c.jobs.map((j) => jobs.insertOne(queue, j.job, now));
  }).immediate as never;
  return {
    save,
    claim,
    remove: db.prepare(`DELETE FROM schedules WHERE queue = ? AND name = ?`),
    list: db.prepare(`SELECT ${cols} FROM schedules WHERE queue = ? ORDER BY name`),
  };
}
