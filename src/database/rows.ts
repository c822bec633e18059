/**
 * Values in and rows out: bind parameters of raw SQL converted to what SQLite stores, and fetched rows decoded
 * (ENCRYPTED columns opened, JSON columns parsed) as the compiled statement says.
 */
import type { Compiled } from './connection.js';
import type { ColumnCipher } from './encrypted-columns.js';
import { DatabaseError } from './errors.js';
import { parseJsonKeys, toSql } from './json-columns.js';
import type { SharedConnection } from './connection.js';
import { quote } from './identifiers.js';
import { cipherFor, tableInfo } from './schema.js';
import type { BindParams } from './types.js';

const NO_PARAMS: readonly unknown[] = [];

/** Whether SQLite cannot bind `v` as is (booleans, undefined, objects but bytes): it then goes through `toSql`. */
function needsConversion(v: unknown): boolean {
  const t = typeof v;
  return t === 'boolean' || t === 'undefined' || (t === 'object' && v !== null && !(v instanceof Uint8Array));
}

/**
 * Raw-SQL parameters as SQLite binds them (booleans 1/0, Dates ISO strings, ...); the caller's array or object
 * is returned unchanged when nothing needs converting.
 */
export function convertParams(params: BindParams | undefined): BindParams {
  if (params === undefined) return NO_PARAMS;
  if (!Array.isArray(params)) {
    if (typeof params !== 'object' || params === null) {
      throw new DatabaseError('SQL parameters must be an array or an object of named parameters', {
        code: 'ERR_DB_VALUE',
      });
    }
    const named = params as Readonly<Record<string, unknown>>;
    let out: Record<string, unknown> | undefined;
    for (const k in named) {
      const v = named[k];
      if (needsConversion(v)) {
        out ??= { ...named };
        out[k] = toSql(v, k);
      }
    }
    return out ?? named;
  }
  let out: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const v: unknown = params[i];
    if (needsConversion(v)) {
      out ??= params.slice();
      out[i] = toSql(v, `parameter ${i + 1}`);
    }
  }
  return out ?? params;
}

/**
 * Decode fetched rows in place as the compiled statement says: open ENCRYPTED values, parse JSON text. A token
 * that does not open throws `ERR_DB_DECRYPT` naming the table, the column and the row (see {@link rowOf}).
 * @param locate - names the row holding a stored value of a column (`id 5`, `rowid 7`), for the error
 * @returns the rows (a new array only when JSON keys were parsed)
 */
export function decodeRows<T>(
  rows: T[],
  compiled: Compiled,
  table: string,
  cipher: ColumnCipher | undefined,
  locate?: (column: string, stored: unknown) => string | undefined,
): T[] {
  const opened = compiled.opened;
  if (opened !== undefined) {
    const open = cipherFor(cipher, table);
    const columns = compiled.openedColumns ?? opened;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as Record<string, unknown>;
      for (let k = 0; k < opened.length; k++) {
        const key = opened[k] as string;
        const column = columns[k] as string;
        const stored = row[key];
        try {
          row[key] = open.open(stored, table, column);
        } catch (err) {
          const where = locate?.(column, stored);
          if (where === undefined || !(err instanceof DatabaseError)) throw err;
          throw new DatabaseError(`${err.message.replace(/:/, ` (${where}):`)}`, {
            code: err.code,
            cause: err.cause,
            details: { ...err.details, row: where },
          });
        }
      }
    }
  }
  return compiled.parse.length === 0 ? rows : parseJsonKeys(rows, compiled.parse);
}

/**
 * Which row holds `stored` in `column`: its primary key (`id 5`, `a 1, b 2`) or its `rowid`; found by value, only
 * after a token failed to open, so reads pay nothing for it. `undefined` when it cannot be told.
 */
export function rowOf(shared: SharedConnection, table: string, column: string, stored: unknown): string | undefined {
  try {
    tableInfo(shared, table);
    const list = (shared.db.pragma(`table_list(${quote(table)})`) as { wr: number }[])[0];
    const pk = shared.primaryKeys.get(table) ?? [];
    const keys = list !== undefined && list.wr === 1 ? pk : pk.length > 0 ? pk : ['rowid'];
    if (keys.length === 0) return undefined;
    const found = shared.db
      .prepare(`SELECT ${keys.map(quote).join(', ')} FROM ${quote(table)} WHERE ${quote(column)} = ? LIMIT 1`)
      .raw(true)
      .get(stored) as unknown[] | undefined;
    if (found === undefined) return undefined;
    return keys.map((k, i) => `${k} ${String(found[i])}`).join(', ');
  } catch {
    return undefined;
  }
}
