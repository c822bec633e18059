/**
 * Column declarations and value conversion: which columns are JSON (declared type `JSON`), and how values
 * are turned into SQLite bind values on write and back into JS values on read.
 */
import { DatabaseError } from './errors.js';

/** A value SQLite can bind directly. */
export type SqlValue = string | number | bigint | Buffer | Uint8Array | null;

const CONSTRAINT_START = /^(constraint|primary|unique|check|foreign)\b/i;

/**
 * Split a column-definition list on its top-level commas (ignoring commas inside parentheses and quotes).
 * @param defs - e.g. `'id INTEGER PRIMARY KEY, tags JSON, CHECK (a IN (1, 2))'`
 * @returns the trimmed parts
 */
export function splitDefinitions(defs: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoteChar = '';
  let start = 0;
  for (let i = 0; i < defs.length; i++) {
    const ch = defs[i];
    if (quoteChar !== '') {
      if (ch === quoteChar) quoteChar = '';
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') quoteChar = ch;
    else if (ch === '[') quoteChar = ']';
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(defs.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(defs.slice(start).trim());
  return parts.filter((p) => p !== '');
}

/**
 * Find the columns whose declared type starts with the word `type` (any case) in a column-definition list.
 * @param defs - the declaration given in `tables`
 * @param type - the type word, upper case (`'JSON'`, `'ENCRYPTED'`)
 * @returns names of those columns
 */
export function columnsOfType(defs: string, type: string): Set<string> {
  const found = new Set<string>();
  for (const part of splitDefinitions(defs)) {
    if (CONSTRAINT_START.test(part)) continue;
    const match = /^(?:"([^"]+)"|`([^`]+)`|\[([^\]]+)\]|([A-Za-z_][A-Za-z0-9_]*))\s+([A-Za-z]+)/.exec(part);
    if (!match) continue;
    const name = match[1] ?? match[2] ?? match[3] ?? match[4];
    if (name !== undefined && match[5]?.toUpperCase() === type) found.add(name);
  }
  return found;
}

/**
 * Find the columns declared with type `JSON` in a column-definition list.
 * @param defs - the declaration given in `tables`
 * @returns names of the JSON columns
 */
export function jsonColumnsOf(defs: string): Set<string> {
  return columnsOfType(defs, 'JSON');
}

/**
 * Whether a declared type (from `PRAGMA table_info`) marks a JSON column.
 * @param type - the declared type text
 * @returns true for `JSON` (any case)
 */
export function isJsonType(type: string): boolean {
  return type.trim().toUpperCase() === 'JSON';
}

/**
 * Convert a JS value for a plain (non-JSON) column: booleans become 1/0, Dates ISO strings,
 * `undefined` null. Objects are rejected (declare the column `JSON` to store them).
 * @param value - the value to bind
 * @param column - column name, for the error message
 * @returns the bind value
 */
export function toSql(value: unknown, column: string): SqlValue {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'bigint':
      return value;
    case 'boolean':
      return value ? 1 : 0;
    case 'undefined':
      return null;
    case 'object':
      if (value === null || value instanceof Uint8Array) return value;
      if (value instanceof Date) return value.toISOString();
      break;
    default:
      break;
  }
  throw new DatabaseError(
    `Cannot store a ${value === null ? 'null' : typeof value} in column "${column}": declare it JSON to store objects`,
    { code: 'ERR_DB_VALUE' },
  );
}

/**
 * Serialise a value for a JSON column. `null`/`undefined` stay SQL NULL; everything else is JSON text.
 * @param value - the value to store
 * @param column - column name, for the error message
 * @returns JSON text or null
 */
export function toJson(value: unknown, column: string): string | null {
  if (value === null || value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new DatabaseError(`Cannot serialise the value of JSON column "${column}"`, {
      code: 'ERR_DB_VALUE',
      cause: err,
    });
  }
  if (text === undefined) {
    throw new DatabaseError(`Cannot serialise a ${typeof value} into JSON column "${column}"`, {
      code: 'ERR_DB_VALUE',
    });
  }
  return text;
}

/**
 * Parse the listed JSON keys of each row in place.
 * @param rows - rows as returned by better-sqlite3
 * @param keys - result keys holding JSON text
 * @returns the same rows
 */
export function parseJsonKeys<T>(rows: T[], keys: readonly string[]): T[] {
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Record<string, unknown>;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as string;
      const text = row[key];
      if (typeof text !== 'string') continue;
      try {
        row[key] = JSON.parse(text);
      } catch (err) {
        throw new DatabaseError(`Stored value of JSON column "${key}" is not valid JSON`, {
          code: 'ERR_DB_VALUE',
          cause: err,
        });
      }
    }
  }
  return rows;
}
