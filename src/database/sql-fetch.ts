/**
 * The SELECT of the SQL compiler: `fetch` options (columns with aliases and JSON paths, where, orderBy, limit,
 * offset) become one prepared statement per call shape, with a fast path that recognises a repeat of the last
 * shape without building its key.
 */
import type { Compiled, FetchShape, SharedConnection, ShapeCache } from './connection.js';
import { DatabaseError } from './errors.js';
import { parseOrderItem, quote } from './identifiers.js';
import { checkColumn, columnRef, encryptedQueryError, remember, shapesOf, tableInfo } from './schema.js';
import { compileWhere, valueSql, whereShape } from './sql-where.js';
import type { FetchOptions, WhereObject } from './types.js';

/**
 * The compiled statement of a fetch call, its where values pushed to `params` (then limit and offset).
 * @param params - receives the raw bind values, in order
 */
export function fetchCompiled(
  shared: SharedConnection,
  table: string,
  options: FetchOptions,
  params: unknown[],
): Compiled {
  const byTable = shapesOf(shared, table);
  const { limit, offset } = options;
  let compiled: Compiled | undefined;
  const last = byTable.lastFetch;
  if (last !== undefined) {
    if (sameFetchShape(last, options, params)) compiled = last.compiled;
    else params.length = 0;
  }
  if (compiled === undefined) {
    let key = 'f';
    const cols = options.columns;
    if (cols !== undefined) {
      for (let i = 0; i < cols.length; i++) {
        const c = cols[i] as string;
        key += c.length + ':' + c;
      }
    }
    key += '|' + whereShape(options.where, params);
    const order = options.orderBy;
    if (order !== undefined) {
      if (typeof order === 'string') key += 'o' + order.length + ':' + order;
      else for (let i = 0; i < order.length; i++) key += 'O' + (order[i] as string).length + ':' + order[i];
    }
    if (limit !== undefined) key += 'l';
    if (offset !== undefined) key += 'f';
    compiled = byTable.get(key) ?? compileFetch(shared, byTable, table, options, key);
    byTable.lastFetch = fastShape(compiled, options);
  }
  if (limit !== undefined) {
    if (!Number.isInteger(limit) || limit < 0)
      throw new DatabaseError('limit must be a non-negative integer', { code: 'ERR_DB_VALUE' });
    params.push(limit);
  }
  if (offset !== undefined) {
    if (!Number.isInteger(offset) || offset < 0)
      throw new DatabaseError('offset must be a non-negative integer', { code: 'ERR_DB_VALUE' });
    params.push(offset);
  }
  return compiled;
}

function compileFetch(
  shared: SharedConnection,
  byTable: ShapeCache,
  table: string,
  options: FetchOptions,
  key: string,
): Compiled {
  const info = tableInfo(shared, table);
  const parse: string[] = [];
  const opened: string[] = [];
  const openedColumns: string[] = [];
  let select: string;
  const cols = options.columns;
  if (cols === undefined || cols.length === 0) {
    if (cols !== undefined && !Array.isArray(cols))
      throw new DatabaseError('columns must be an array', { code: 'ERR_DB_VALUE' });
    select = '*';
    for (const c of info.json) parse.push(c);
    for (const c of info.encrypted) {
      opened.push(c);
      openedColumns.push(c);
    }
  } else {
    if (!Array.isArray(cols)) throw new DatabaseError('columns must be an array of strings', { code: 'ERR_DB_VALUE' });
    const parts: string[] = [];
    for (const spec of cols) {
      const ref = columnRef(shared, table, spec);
      if (tableInfo(shared, table).encrypted.has(ref.column)) {
        if (ref.path !== undefined)
          throw encryptedQueryError(table, ref.column, 'a JSON path (fetch the column and read the value)');
        opened.push(ref.alias);
        openedColumns.push(ref.column);
      }
      if (ref.path !== undefined) {
        // `->` yields JSON text for every type, so strings, numbers and objects all parse back exactly.
        parts.push(`${quote(ref.column)} -> '${ref.path}' AS ${quote(ref.alias)}`);
        parse.push(ref.alias);
      } else {
        parts.push(ref.alias === ref.column ? quote(ref.column) : `${quote(ref.column)} AS ${quote(ref.alias)}`);
        if (tableInfo(shared, table).json.has(ref.column)) parse.push(ref.alias);
      }
    }
    select = parts.join(', ');
  }
  const columns: string[] = [];
  const json: boolean[] = [];
  let sql = `SELECT ${select} FROM ${quote(table)}${compileWhere(shared, table, options.where, columns, json)}`;
  const order = options.orderBy;
  if (order !== undefined) {
    const items = typeof order === 'string' ? order.split(',') : order;
    if (!Array.isArray(items) || items.length === 0)
      throw new DatabaseError('orderBy must be a string or array', { code: 'ERR_DB_VALUE' });
    const parts = items.map((item: unknown) => {
      const { ref, direction } = parseOrderItem(item);
      checkColumn(shared, table, tableInfo(shared, table), ref.column);
      if (tableInfo(shared, table).encrypted.has(ref.column)) throw encryptedQueryError(table, ref.column, 'orderBy');
      return `${valueSql(ref)} ${direction}`;
    });
    sql += ` ORDER BY ${parts.join(', ')}`;
  }
  if (options.limit !== undefined) {
    sql += ' LIMIT ?';
    columns.push('limit');
    json.push(false);
  }
  if (options.offset !== undefined) {
    // SQLite only accepts OFFSET after a LIMIT; -1 means no limit.
    if (options.limit === undefined) sql += ' LIMIT -1';
    sql += ' OFFSET ?';
    columns.push('offset');
    json.push(false);
  }
  return remember(byTable, key, {
    stmt: shared.db.prepare(sql),
    columns,
    json,
    parse,
    opened: opened.length === 0 ? undefined : opened,
    openedColumns: opened.length === 0 ? undefined : openedColumns,
  });
}

/** Whether a fetch call has the remembered fast shape; collects the where parameters when it does. */
function sameFetchShape(last: FetchShape, options: FetchOptions, params: unknown[]): boolean {
  const cols = options.columns;
  const lastCols = last.columns;
  if (cols !== lastCols) {
    if (cols === undefined || lastCols === undefined || cols.length !== lastCols.length) return false;
    for (let i = 0; i < cols.length; i++) if (cols[i] !== lastCols[i]) return false;
  }
  if (options.orderBy !== last.orderBy) return false;
  if ((options.limit !== undefined) !== last.limit || (options.offset !== undefined) !== last.offset) return false;
  const where = options.where;
  const keys = last.whereKeys;
  if (where === undefined) return keys === undefined;
  if (keys === undefined || Array.isArray(where)) return false;
  let i = 0;
  for (const k in where as WhereObject) {
    const v = (where as WhereObject)[k];
    if (i >= keys.length || keys[i] !== k || v === null || v === undefined || Array.isArray(v)) return false;
    params.push(v);
    i++;
  }
  return i === keys.length;
}

/** The fast-path shape of a fetch call, or undefined when the call is not eligible. */
function fastShape(compiled: Compiled, options: FetchOptions): FetchShape | undefined {
  const { where, orderBy, columns } = options;
  if (orderBy !== undefined && typeof orderBy !== 'string') return undefined;
  let whereKeys: string[] | undefined;
  if (where !== undefined) {
    if (Array.isArray(where)) return undefined;
    whereKeys = [];
    for (const k in where as WhereObject) {
      const v = (where as WhereObject)[k];
      if (v === null || v === undefined || Array.isArray(v)) return undefined;
      whereKeys.push(k);
    }
  }
  return {
    compiled,
    columns: columns === undefined ? undefined : [...columns],
    whereKeys,
    orderBy,
    limit: options.limit !== undefined,
    offset: options.offset !== undefined,
  };
}
