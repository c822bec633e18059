/**
 * Key rotation of a table's ENCRYPTED columns: every token opened with whichever key made it and sealed again
 * under the first key, in one IMMEDIATE transaction, paged by rowid where the table has one.
 */
import type { SharedConnection } from './connection.js';
import type { ColumnCipher } from './encrypted-columns.js';
import { DatabaseError } from './errors.js';
import { quote } from './identifiers.js';
import { cipherFor, tableInfo } from './schema.js';

const PAGE = 500;

/**
 * Re-encrypt every ENCRYPTED value of `table` with the first key (see `Database.reencrypt`).
 * @returns the number of rows rewritten
 */
export function reencryptTable(shared: SharedConnection, table: string, cipher: ColumnCipher | undefined): number {
  const columns = [...tableInfo(shared, table, true).encrypted];
  if (columns.length === 0)
    throw new DatabaseError(`Table "${table}" has no ENCRYPTED columns`, { code: 'ERR_DB_VALUE' });
  const sealer = cipherFor(cipher, table);
  const list = (shared.db.pragma(`table_list(${quote(table)})`) as { wr: number }[])[0];
  const keys = list !== undefined && list.wr === 1 ? (shared.primaryKeys.get(table) ?? []) : ['rowid'];
  const select = `SELECT ${[...keys, ...columns].map(quote).join(', ')} FROM ${quote(table)}`;
  const update = shared.db.prepare(
    `UPDATE ${quote(table)} SET ${columns.map((c) => `${quote(c)} = ?`).join(', ')} WHERE ${keys.map((k) => `${quote(k)} = ?`).join(' AND ')}`,
  );
  const rotate = (row: unknown[]): boolean => {
    const values: unknown[] = [];
    let tokens = 0;
    for (let i = 0; i < columns.length; i++) {
      const stored = row[keys.length + i];
      if (stored === null) values.push(null);
      else {
        const where = keys.map((k, j) => `${k} ${String(row[j])}`).join(', ');
        values.push(sealer.rotate(stored, table, columns[i] as string, where));
        tokens++;
      }
    }
    if (tokens === 0) return false;
    update.run(...values, ...row.slice(0, keys.length));
    return true;
  };
  return shared.immediate(() => {
    let count = 0;
    if (keys[0] === 'rowid' && keys.length === 1) {
      // Pages by rowid: better-sqlite3 cannot write while a read iterator is open, and a whole table may not fit in memory.
      const page = shared.db.prepare(`${select} WHERE rowid > ? ORDER BY rowid LIMIT ${PAGE}`).raw(true);
      let after: unknown = -Infinity;
      for (;;) {
        const rows = page.all(after) as unknown[][];
        for (const row of rows) if (rotate(row)) count++;
        if (rows.length < PAGE) break;
        after = (rows[rows.length - 1] as unknown[])[0];
      }
    } else {
      for (const row of shared.db.prepare(select).raw(true).all() as unknown[][]) if (rotate(row)) count++;
    }
    return count;
  }) as number;
}
