/**
 * The writes of the SQL compiler: INSERT (with a fast path for rows shaped like the previous one), UPSERT
 * (`ON CONFLICT ... DO UPDATE SET col = excluded.col`) and UPDATE, one prepared statement per call shape.
 */
import type { Compiled, SharedConnection, ShapeCache } from './connection.js';
import type { ColumnCipher } from './encrypted-columns.js';
import { DatabaseError } from './errors.js';
import { quote } from './identifiers.js';
import { toJson, toSql, type SqlValue } from './json-columns.js';
import { checkColumn, cipherFor, encryptedQueryError, remember, sealedFlags, tableInfo } from './schema.js';
import { bindAll, compileWhere, whereShape } from './sql-where.js';
import type { Row, RowInput, RunResult, UpsertOptions, Where } from './types.js';

/** Insert (or upsert) rows one by one inside the caller's transaction; sums the changes. */
export function insertMany(
  shared: SharedConnection,
  byTable: ShapeCache,
  table: string,
  rows: readonly RowInput[],
  upsert: UpsertOptions | undefined,
  cipher: ColumnCipher | undefined,
): RunResult {
  let changes = 0;
  let lastInsertRowid: number | bigint = 0;
  for (let i = 0; i < rows.length; i++) {
    const result = insertRow(shared, byTable, table, rows[i] as Row, upsert, cipher);
    changes += result.changes;
    if (result.changes > 0) lastInsertRowid = result.lastInsertRowid;
  }
  return { changes, lastInsertRowid };
}

/** Insert (or upsert, with `upsert`) one row. */
export function insertRow(
  shared: SharedConnection,
  byTable: ShapeCache,
  table: string,
  row: Row,
  upsert: UpsertOptions | undefined,
  cipher: ColumnCipher | undefined,
): RunResult {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) {
    throw new DatabaseError('Each row must be an object of column values', { code: 'ERR_DB_VALUE' });
  }
  const last = upsert === undefined ? byTable.lastInsert : undefined;
  if (last !== undefined) {
    // Fast path: same keys in the same order as the previous insert (property keys are interned strings,
    // so this is pointer comparison); values are converted in the same pass.
    const cols = last.columns;
    const json = last.json;
    const sealed = last.sealed;
    const sealer = sealed === undefined ? undefined : cipherFor(cipher, table);
    const n = cols.length;
    const values = new Array<SqlValue>(n);
    let i = 0;
    for (const k in row) {
      const v = row[k];
      if (v === undefined) continue;
      if (i >= n || cols[i] !== k) {
        i = -1;
        break;
      }
      if (sealed !== undefined && sealed[i] === true) values[i] = (sealer as ColumnCipher).seal(v, k, table);
      else values[i] = json[i] === true ? toJson(v, k) : toSql(v, k);
      i++;
    }
    if (i === n) return last.stmt.run(...values);
  }
  let key = upsert === undefined ? 'i' : 'p';
  for (const k in row) {
    if (row[k] === undefined) continue;
    key += k.length + ':' + k;
  }
  if (upsert !== undefined) key += '|' + upsertShape(upsert);
  const compiled = byTable.get(key) ?? compileInsert(shared, byTable, table, row, upsert, key, cipher);
  if (upsert === undefined) byTable.lastInsert = compiled;
  const columns = compiled.columns;
  const json = compiled.json;
  const sealed = compiled.sealed;
  const sealer = sealed === undefined ? undefined : cipherFor(cipher, table);
  const values = new Array<SqlValue>(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i] as string;
    if (sealed !== undefined && sealed[i] === true)
      values[i] = (sealer as ColumnCipher).seal(row[column], column, table);
    else values[i] = json[i] === true ? toJson(row[column], column) : toSql(row[column], column);
  }
  return compiled.stmt.run(...values);
}

function compileInsert(
  shared: SharedConnection,
  byTable: ShapeCache,
  table: string,
  row: Row,
  upsert: UpsertOptions | undefined,
  key: string,
  cipher: ColumnCipher | undefined,
): Compiled {
  const info = tableInfo(shared, table);
  const columns: string[] = [];
  const json: boolean[] = [];
  for (const k in row) {
    if (row[k] === undefined) continue;
    checkColumn(shared, table, info, k);
    columns.push(k);
    json.push(tableInfo(shared, table).json.has(k));
  }
  let sql =
    columns.length === 0
      ? `INSERT INTO ${quote(table)} DEFAULT VALUES`
      : `INSERT INTO ${quote(table)} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
  if (upsert !== undefined) {
    if (columns.length === 0) throw new DatabaseError('upsert() needs at least one column', { code: 'ERR_DB_VALUE' });
    const conflict =
      upsert.conflict === undefined
        ? (shared.primaryKeys.get(table) ?? [])
        : typeof upsert.conflict === 'string'
          ? [upsert.conflict]
          : [...upsert.conflict];
    if (conflict.length === 0) {
      throw new DatabaseError(`upsert() on "${table}": no primary key, pass options.conflict`, {
        code: 'ERR_DB_VALUE',
      });
    }
    for (const c of conflict) {
      checkColumn(shared, table, info, c);
      if (tableInfo(shared, table).encrypted.has(c)) throw encryptedQueryError(table, c, 'an upsert conflict target');
    }
    const update = upsert.update === undefined ? columns.filter((c) => !conflict.includes(c)) : [...upsert.update];
    for (const c of update) checkColumn(shared, table, info, c);
    sql += ` ON CONFLICT (${conflict.map(quote).join(', ')}) DO `;
    sql +=
      update.length === 0
        ? 'NOTHING'
        : `UPDATE SET ${update.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`;
  }
  return remember(byTable, key, {
    stmt: shared.db.prepare(sql),
    columns,
    json,
    parse: [],
    sealed: sealedFlags(shared, table, columns, cipher),
  });
}

function upsertShape(options: UpsertOptions): string {
  let key = '';
  const { conflict, update } = options;
  if (typeof conflict === 'string') key += 'c' + conflict.length + ':' + conflict;
  else if (conflict !== undefined) for (const c of conflict) key += 'C' + c.length + ':' + c;
  key += '|';
  if (update !== undefined) {
    key += 'u';
    for (const c of update) key += c.length + ':' + c;
  }
  return key;
}

/** Run an UPDATE of the defined keys of `set` on the rows `where` selects. */
export function updateRows(
  shared: SharedConnection,
  byTable: ShapeCache,
  table: string,
  set: Row,
  where: Where,
  cipher: ColumnCipher | undefined,
): RunResult {
  if (typeof set !== 'object' || set === null || Array.isArray(set)) {
    throw new DatabaseError('update() needs an object of columns to set', { code: 'ERR_DB_VALUE' });
  }
  if (where === undefined)
    throw new DatabaseError('update() needs a where clause ({} for every row)', { code: 'ERR_DB_VALUE' });
  const params: unknown[] = [];
  let key = 'u';
  for (const k in set) {
    const v = set[k];
    if (v === undefined) continue;
    key += k.length + ':' + k;
    params.push(v);
  }
  if (params.length === 0) throw new DatabaseError('update() got no columns to set', { code: 'ERR_DB_VALUE' });
  key += '|' + whereShape(where, params);
  let compiled = byTable.get(key);
  if (compiled === undefined) {
    const info = tableInfo(shared, table);
    const columns: string[] = [];
    const json: boolean[] = [];
    const sets: string[] = [];
    for (const k in set) {
      if (set[k] === undefined) continue;
      checkColumn(shared, table, info, k);
      sets.push(`${quote(k)} = ?`);
      columns.push(k);
      json.push(tableInfo(shared, table).json.has(k));
    }
    const sealed = sealedFlags(shared, table, columns, cipher);
    const clause = compileWhere(shared, table, where, columns, json);
    if (sealed !== undefined) while (sealed.length < columns.length) sealed.push(false);
    compiled = remember(byTable, key, {
      stmt: shared.db.prepare(`UPDATE ${quote(table)} SET ${sets.join(', ')}${clause}`),
      columns,
      json,
      parse: [],
      sealed,
    });
  }
  return compiled.stmt.run(
    bindAll(params, compiled, compiled.sealed === undefined ? undefined : cipherFor(cipher, table), table),
  );
}
