/**
 * The writes a DatabaseBuffer records: their shape, the checks a write passes before it is stored, and how a
 * stored write is applied to the main database.
 */
import type { Database, Row, UpsertOptions, Where } from '../database/index.js';
import { IDENTIFIER_PATTERN } from '../database/internal.js';
import { BufferError } from './errors.js';

/** One buffered write, as recorded and as reported in dead letters. */
export type BufferedWrite =
  | { op: 'insert'; table: string; rows: Row | readonly Row[] }
  | { op: 'upsert'; table: string; rows: Row | readonly Row[]; options?: UpsertOptions }
  | { op: 'update'; table: string; set: Row; where: Where }
  | { op: 'delete'; table: string; where: Where }
  | { op: 'execute'; sql: string; params?: readonly unknown[] | Readonly<Record<string, unknown>> };

/** A table name: a plain identifier. */
export function checkTable(table: unknown): string {
  if (typeof table !== 'string' || !IDENTIFIER_PATTERN.test(table)) {
    throw new BufferError(`table must be a plain identifier (letters, digits, _), got ${JSON.stringify(table)}`, {
      code: 'ERR_BUFFER_INVALID_INPUT',
    });
  }
  return table;
}

/** Rows: a row object or a non-empty array of them. */
export function checkRows(rows: unknown): void {
  const list = Array.isArray(rows) ? rows : [rows];
  if (list.length === 0 || !list.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))) {
    throw new BufferError('rows must be a row object or a non-empty array of row objects', {
      code: 'ERR_BUFFER_INVALID_INPUT',
    });
  }
}

/** A where: an object or `[sql, ...params]`. */
export function checkWhere(where: unknown): void {
  const ok = Array.isArray(where) ? typeof where[0] === 'string' : typeof where === 'object' && where !== null;
  if (!ok)
    throw new BufferError('where must be an object ({ id: 1 }) or [sql, ...params]', {
      code: 'ERR_BUFFER_INVALID_INPUT',
    });
}

/** Apply one stored write to the main database. */
export function applyWrite(db: Database, w: BufferedWrite): void {
  switch (w.op) {
    case 'insert':
      db.insert(w.table, w.rows);
      return;
    case 'upsert':
      db.upsert(w.table, w.rows, w.options);
      return;
    case 'update':
      db.update(w.table, w.set, w.where);
      return;
    case 'delete':
      db.delete(w.table, w.where);
      return;
    case 'execute':
      db.execute(w.sql, w.params);
      return;
    default:
      throw new BufferError(`unknown buffered write ${JSON.stringify((w as { op: unknown }).op)}`, {
        code: 'ERR_BUFFER_INVALID_INPUT',
      });
  }
}
