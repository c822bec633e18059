/**
 * What the SQL compiler knows about a table: its columns (from `PRAGMA table_info` and the declarations), which
 * are JSON or ENCRYPTED, its primary key, and the per-table cache of compiled statements. All of it lives on the
 * shared connection, so every `Database` on one file shares it.
 */
import { ShapeCache, type Compiled, type SharedConnection, type TableInfo } from './connection.js';
import { isEncryptedType, type ColumnCipher } from './encrypted-columns.js';
import { DatabaseError } from './errors.js';
import { assertIdentifier, parseColumnRef, quote, type ColumnRef } from './identifiers.js';
import { isJsonType } from './json-columns.js';

const ROWID = new Set(['rowid', 'oid', '_rowid_']);
const MAX_SHAPES_PER_TABLE = 2000;

/**
 * The table's columns, loaded from PRAGMA table_info (and declared JSON / ENCRYPTED columns); throws if it does
 * not exist.
 * @param refresh - read the schema again (it may have changed under us)
 */
export function tableInfo(shared: SharedConnection, table: string, refresh = false): TableInfo {
  let info = refresh ? undefined : shared.tables.get(table);
  if (info !== undefined) return info;
  assertIdentifier(table, 'table');
  const rows = shared.db.pragma(`table_info(${quote(table)})`) as { name: string; type: string; pk: number }[];
  if (rows.length === 0) {
    throw new DatabaseError(`No such table "${table}"`, { code: 'ERR_DB_NO_TABLE' });
  }
  const declared = shared.declaredJson.get(table);
  const declaredSealed = shared.declaredEncrypted.get(table);
  info = { columns: new Set(), json: new Set(), encrypted: new Set() };
  const pk: { name: string; pk: number }[] = [];
  for (const row of rows) {
    info.columns.add(row.name);
    // An ENCRYPTED column holds tokens, never JSON text, whatever an older declaration said.
    if (isEncryptedType(row.type) || declaredSealed?.has(row.name) === true) info.encrypted.add(row.name);
    else if (isJsonType(row.type) || declared?.has(row.name) === true) info.json.add(row.name);
    if (row.pk > 0) pk.push(row);
  }
  shared.tables.set(table, info);
  shared.primaryKeys.set(
    table,
    pk.sort((a, b) => a.pk - b.pk).map((r) => r.name),
  );
  return info;
}

/** Throw unless `column` is a valid identifier naming a column of the table (or its rowid). */
export function checkColumn(shared: SharedConnection, table: string, info: TableInfo, column: string): void {
  assertIdentifier(column, 'column');
  if (info.columns.has(column)) return;
  // The schema may have changed under us (ALTER TABLE from another connection): look once more.
  if (tableInfo(shared, table, true).columns.has(column)) return;
  if (ROWID.has(column.toLowerCase())) return;
  throw new DatabaseError(`Unknown column "${column}" in table "${table}"`, { code: 'ERR_DB_IDENTIFIER' });
}

/** Parse `col`, `col as alias` or `col::json.path` and check that the column exists. */
export function columnRef(shared: SharedConnection, table: string, spec: unknown): ColumnRef {
  const ref = parseColumnRef(spec);
  checkColumn(shared, table, tableInfo(shared, table), ref.column);
  return ref;
}

/** The table's compiled-statement cache, created (after checking the table exists) on first use. */
export function shapesOf(shared: SharedConnection, table: string): ShapeCache {
  let byTable = shared.compiled.get(table);
  if (byTable === undefined) {
    tableInfo(shared, table);
    byTable = new ShapeCache();
    shared.compiled.set(table, byTable);
  }
  return byTable;
}

/** Cache a compiled statement under its call shape. */
export function remember(byTable: ShapeCache, key: string, compiled: Compiled): Compiled {
  // Many IN-list lengths or ad-hoc where tuples could otherwise grow the cache without bound.
  if (byTable.size >= MAX_SHAPES_PER_TABLE) byTable.clear();
  byTable.set(key, compiled);
  return compiled;
}

/** Forget cached schemas and compiled statements (after DDL or migrations). */
export function invalidateSchema(shared: SharedConnection): void {
  shared.tables.clear();
  shared.compiled.clear();
  shared.primaryKeys.clear();
}

/** The cipher of a table's ENCRYPTED columns; throws when the `Database` was opened without `encryptionKey`. */
export function cipherFor(cipher: ColumnCipher | undefined, table: string): ColumnCipher {
  if (cipher === undefined) {
    throw new DatabaseError(
      `Table "${table}" has ENCRYPTED columns: open the Database with the "encryptionKey" option to read or write them`,
      { code: 'ERR_DB_OPTIONS' },
    );
  }
  return cipher;
}

/** Per column: whether it is ENCRYPTED; undefined when none is (the common case costs nothing per value). */
export function sealedFlags(
  shared: SharedConnection,
  table: string,
  columns: readonly string[],
  cipher: ColumnCipher | undefined,
): boolean[] | undefined {
  const encrypted = tableInfo(shared, table).encrypted;
  if (encrypted.size === 0) return undefined;
  const flags = columns.map((c) => encrypted.has(c));
  if (!flags.includes(true)) return undefined;
  cipherFor(cipher, table);
  return flags;
}

/** The error for an ENCRYPTED column used where values must be compared. */
export function encryptedQueryError(table: string, column: string, what: string): DatabaseError {
  return new DatabaseError(
    `Column "${column}" of table "${table}" is ENCRYPTED: it cannot be used in ${what} (its values are stored as random Fernet tokens)`,
    { code: 'ERR_DB_ENCRYPTED_QUERY' },
  );
}
