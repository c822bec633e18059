/**
 * Values in and rows out: bind parameters of raw SQL converted to what SQLite stores, and fetched rows decoded
 * (ENCRYPTED columns opened, JSON columns parsed) as the compiled statement says.
 */
import type { Compiled } from './connection.js';
import type { ColumnCipher } from './encrypted-columns.js';
import { DatabaseError } from './errors.js';
import { parseJsonKeys, toSql } from './json-columns.js';
import { cipherFor } from './schema.js';
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
 * Decode fetched rows in place as the compiled statement says: open ENCRYPTED values, parse JSON text.
 * @returns the rows (a new array only when JSON keys were parsed)
 */
export function decodeRows<T>(rows: T[], compiled: Compiled, table: string, cipher: ColumnCipher | undefined): T[] {
  const opened = compiled.opened;
  if (opened !== undefined) {
    const open = cipherFor(cipher, table);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as Record<string, unknown>;
      for (let k = 0; k < opened.length; k++) {
        const key = opened[k] as string;
        row[key] = open.open(row[key], table, key);
      }
    }
  }
  return compiled.parse.length === 0 ? rows : parseJsonKeys(rows, compiled.parse);
}
