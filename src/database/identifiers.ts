/**
 * Identifier and JSON-path validation. Every table, column, alias and JSON path that is spliced into SQL
 * passes through here first; anything outside a strict ASCII pattern is a `DatabaseError`, never SQL.
 */
import { DatabaseError } from './errors.js';

/** Strict identifier pattern: ASCII letter or underscore, then ASCII letters, digits, underscores. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

const JSON_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const JSON_INDEX = /^\[(\d{1,9})\]$/;
const SPEC = /^([A-Za-z_][A-Za-z0-9_]*)(?:::([A-Za-z0-9_.[\]]+))?(?:\s+as\s+([A-Za-z_][A-Za-z0-9_]*))?$/i;
const ORDER = /^(.+?)(?:\s+(asc|desc))?$/i;

/**
 * Throw unless `name` matches {@link IDENTIFIER_PATTERN}.
 * @param name - candidate identifier
 * @param kind - what it names, for the message (`'table'`, `'column'`, ...)
 * @returns the identifier, unchanged
 */
export function assertIdentifier(name: unknown, kind: string): string {
  if (typeof name !== 'string' || !IDENTIFIER_PATTERN.test(name)) {
    throw new DatabaseError(
      `Invalid ${kind} name ${JSON.stringify(String(name)).slice(0, 80)}: expected ${IDENTIFIER_PATTERN.source}`,
      { code: 'ERR_DB_IDENTIFIER' },
    );
  }
  return name;
}

/**
 * Quote an already validated identifier for SQL.
 * @param name - identifier that passed {@link assertIdentifier}
 * @returns the double-quoted identifier
 */
export function quote(name: string): string {
  return `"${name}"`;
}

/** A parsed `column[::json.path] [as alias]` reference. */
export interface ColumnRef {
  /** The column name. */
  column: string;
  /** SQLite JSON path (`'$.a.b[0]'`) when a `::path` was given. */
  path: string | undefined;
  /** The key the value comes back under. */
  alias: string;
}

/**
 * Turn `a.b[0].c` into the SQLite JSON path `$.a.b[0].c`, validating every segment.
 * @param path - dotted path as written after `::`
 * @param original - the full reference, for the error message
 * @returns the path and its last key (used as the default alias)
 */
export function toJsonPath(path: string, original: string): { sql: string; lastKey: string } {
  let sql = '$';
  let lastKey = '';
  for (const dotted of path.split('.')) {
    // Each dotted segment is `key` optionally followed by `[n]` indexes, or only indexes (`[0][1]`).
    const bracket = dotted.indexOf('[');
    const key = bracket === -1 ? dotted : dotted.slice(0, bracket);
    const rest = bracket === -1 ? '' : dotted.slice(bracket);
    if (key !== '') {
      if (!JSON_KEY.test(key)) throw badPath(original);
      sql += `.${key}`;
      lastKey = key;
    } else if (rest === '') {
      throw badPath(original);
    }
    if (rest !== '') {
      const indexes = rest.match(/\[\d{1,9}\]/g);
      if (!indexes || indexes.join('') !== rest) throw badPath(original);
      for (const index of indexes) {
        if (!JSON_INDEX.test(index)) throw badPath(original);
        sql += index;
      }
    }
  }
  return { sql, lastKey };
}

function badPath(original: string): DatabaseError {
  return new DatabaseError(
    `Invalid JSON path in ${JSON.stringify(original).slice(0, 80)}: use keys [A-Za-z_][A-Za-z0-9_]* and [n] indexes`,
    { code: 'ERR_DB_IDENTIFIER' },
  );
}

/**
 * Parse `name`, `meta::role`, `meta::a.b[0] as x`. Without `as`, a JSON reference comes back under its
 * last key (`meta::a.role` -> `role`), or the column name when the path has only indexes.
 * @param spec - the reference as written by the caller
 * @returns the parsed reference (not yet checked against the table's columns)
 */
export function parseColumnRef(spec: unknown): ColumnRef {
  const match = typeof spec === 'string' ? SPEC.exec(spec.trim()) : null;
  if (!match) {
    throw new DatabaseError(
      `Invalid column reference ${JSON.stringify(String(spec)).slice(0, 80)}: expected "column", "column::json.path" or "... as alias"`,
      { code: 'ERR_DB_IDENTIFIER' },
    );
  }
  const column = assertIdentifier(match[1], 'column');
  const rawPath = match[2];
  const aliasRaw = match[3];
  if (rawPath === undefined) {
    return { column, path: undefined, alias: aliasRaw === undefined ? column : assertIdentifier(aliasRaw, 'alias') };
  }
  const { sql, lastKey } = toJsonPath(rawPath, spec as string);
  const alias = aliasRaw ?? (lastKey === '' ? column : lastKey);
  return { column, path: sql, alias: assertIdentifier(alias, 'alias') };
}

/**
 * Parse one `orderBy` item: `column[::path] [ASC|DESC]`.
 * @param item - the item as written by the caller
 * @returns the reference and the direction keyword
 */
export function parseOrderItem(item: unknown): { ref: ColumnRef; direction: 'ASC' | 'DESC' } {
  const match = typeof item === 'string' ? ORDER.exec(item.trim()) : null;
  if (!match || match[1] === undefined || /\s+as\s+/i.test(match[1])) {
    throw new DatabaseError(
      `Invalid orderBy item ${JSON.stringify(String(item)).slice(0, 80)}: expected "column [ASC|DESC]"`,
      { code: 'ERR_DB_IDENTIFIER' },
    );
  }
  const ref = parseColumnRef(match[1]);
  return { ref, direction: match[2]?.toUpperCase() === 'DESC' ? 'DESC' : 'ASC' };
}
