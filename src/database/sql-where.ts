/**
 * The where clause of the SQL compiler: a call's where object or `[sql, ...params]` tuple becomes a cache key
 * (its shape) plus its bind values on every call, and an SQL `WHERE` clause once per shape.
 */
import type { Compiled, SharedConnection, ShapeCache } from './connection.js';
import type { ColumnCipher } from './encrypted-columns.js';
import { DatabaseError } from './errors.js';
import { quote, type ColumnRef } from './identifiers.js';
import { toJson, toSql } from './json-columns.js';
import { columnRef, encryptedQueryError, remember, tableInfo } from './schema.js';
import type { Where, WhereObject } from './types.js';

/** Append the shape of a where clause to a cache key and collect its raw parameters. */
export function whereShape(where: Where | undefined, params: unknown[]): string {
  if (where === undefined) return '';
  if (Array.isArray(where)) {
    const sql: unknown = where[0];
    if (typeof sql !== 'string' || sql.trim() === '') {
      throw new DatabaseError('A where tuple must start with an SQL condition string', { code: 'ERR_DB_VALUE' });
    }
    for (let i = 1; i < where.length; i++) params.push(where[i]);
    return 's' + sql.length + ':' + sql;
  }
  if (typeof where !== 'object' || where === null) {
    throw new DatabaseError('where must be an object of equalities or an [sql, ...params] tuple', {
      code: 'ERR_DB_VALUE',
    });
  }
  // Length-prefixed keys make the shape string injective: no two different where objects share a key.
  let key = 'w';
  for (const k in where) {
    const v = (where as WhereObject)[k];
    if (v === null) key += k.length + ':' + k + 'n';
    else if (Array.isArray(v)) {
      key += k.length + ':' + k + 'i' + v.length + ';';
      for (let j = 0; j < v.length; j++) params.push(v[j]);
    } else if (v === undefined) {
      throw new DatabaseError(`where.${k.slice(0, 40)} is undefined: use null for IS NULL, or leave the key out`, {
        code: 'ERR_DB_VALUE',
      });
    } else {
      key += k.length + ':' + k + '=';
      params.push(v);
    }
  }
  return key;
}

/** Convert raw params in place according to the compiled per-position JSON and ENCRYPTED flags. */
export function bindAll(params: unknown[], compiled: Compiled, cipher?: ColumnCipher, table = ''): unknown[] {
  const json = compiled.json;
  const sealed = compiled.sealed;
  for (let i = 0; i < params.length; i++) {
    const column = compiled.columns[i] ?? '?';
    if (sealed !== undefined && sealed[i] === true) params[i] = (cipher as ColumnCipher).seal(params[i], column, table);
    else params[i] = json[i] === true ? toJson(params[i], column) : toSql(params[i], column);
  }
  return params;
}

/** SQL of a column reference as a value: `"col"` or `"col" ->> '$.path'`. */
export function valueSql(ref: ColumnRef): string {
  return ref.path === undefined ? quote(ref.column) : `(${quote(ref.column)} ->> '${ref.path}')`;
}

/** Compile a where clause (cold path), appending per-parameter column names and JSON flags. */
export function compileWhere(
  shared: SharedConnection,
  table: string,
  where: Where | undefined,
  columns: string[],
  json: boolean[],
): string {
  if (where === undefined) return '';
  if (Array.isArray(where)) {
    for (let i = 1; i < where.length; i++) {
      columns.push(`where parameter ${i}`);
      json.push(false);
    }
    return ` WHERE (${where[0] as string})`;
  }
  const parts: string[] = [];
  for (const k in where as WhereObject) {
    const v = (where as WhereObject)[k];
    if (/\s/.test(k))
      throw new DatabaseError(`Invalid where key ${JSON.stringify(k).slice(0, 80)}`, { code: 'ERR_DB_IDENTIFIER' });
    const ref = columnRef(shared, table, k);
    // IS NULL is allowed: NULL is stored as NULL, so it tells nothing the file does not.
    if (tableInfo(shared, table).encrypted.has(ref.column) && (v !== null || ref.path !== undefined))
      throw encryptedQueryError(table, ref.column, 'a where clause');
    const isJson = ref.path === undefined && tableInfo(shared, table).json.has(ref.column);
    const lhs = valueSql(ref);
    if (v === null) {
      parts.push(`${lhs} IS NULL`);
    } else if (Array.isArray(v)) {
      parts.push(`${lhs} IN (${v.map(() => '?').join(', ')})`);
      for (let j = 0; j < v.length; j++) {
        columns.push(k);
        json.push(isJson);
      }
    } else {
      parts.push(`${lhs} = ?`);
      columns.push(k);
      json.push(isJson);
    }
  }
  return parts.length === 0 ? '' : ` WHERE ${parts.join(' AND ')}`;
}

/**
 * The cached statement for a where-only call shape (count, delete), compiled on first use.
 * @param tag - one letter naming the call (`c` count, `d` delete)
 * @param sql - builds the statement around the compiled clause
 */
export function whereStatement(
  shared: SharedConnection,
  byTable: ShapeCache,
  table: string,
  tag: string,
  where: Where | undefined,
  params: unknown[],
  sql: (clause: string) => string,
): Compiled {
  const key = tag + whereShape(where, params);
  const cached = byTable.get(key);
  if (cached !== undefined) return cached;
  const columns: string[] = [];
  const json: boolean[] = [];
  const clause = compileWhere(shared, table, where, columns, json);
  return remember(byTable, key, { stmt: shared.db.prepare(sql(clause)), columns, json, parse: [] });
}
