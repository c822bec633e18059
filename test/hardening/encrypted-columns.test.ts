import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Database, DatabaseError, Fernet } from '../../src/index.js';
import { expectThrown, tempDir } from '../helpers.js';

const KEY = Fernet.generateKey();
const TABLES = {
  people: 'id INTEGER PRIMARY KEY, name TEXT, ssn ENCRYPTED, card ENCRYPTED',
  notes: 'body TEXT, secret ENCRYPTED', // a rowid table without a declared key
};

describe('Hardening: ENCRYPTED columns facing someone with write access to the file', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function open(file: string, bind: boolean): Database {
    const db = new Database({ path: file, tables: TABLES, encryptionKey: KEY, bindEncryptedColumns: bind });
    cleanups.push(() => db.close());
    return db;
  }

  function file(): string {
    const { dir, cleanup } = tempDir('gatehouse-hardening-enc-');
    cleanups.push(cleanup);
    return path.join(dir, 'app.db');
  }

  function seed(db: Database): void {
    db.insert('people', [
      { id: 1, name: 'ada', ssn: '111-11-1111', card: '4111 1111 1111 1111' },
      { id: 2, name: 'bob', ssn: '222-22-2222', card: '5500 0000 0000 0004' },
    ]);
    db.insert('notes', [{ body: 'n1', secret: 'launch code' }]);
  }

  /** What the attacker does: copy a stored token elsewhere with plain SQL. */
  function move(db: Database, sql: string): void {
    expect(db.execute(sql).changes).toBe(1);
  }

  it('without binding (the default), a token moved to another column or table still opens: the documented limit', () => {
    const db = open(file(), false);
    seed(db);
    move(db, 'UPDATE people SET card = (SELECT ssn FROM people WHERE id = 1) WHERE id = 2');
    expect(db.fetchOne('people', { where: { id: 2 } })?.card).toBe('111-11-1111');
    move(db, "UPDATE notes SET secret = (SELECT card FROM people WHERE id = 1) WHERE body = 'n1'");
    expect(db.fetchOne('notes')?.secret).toBe('4111 1111 1111 1111');
  });

  it('with bindEncryptedColumns, a token moved to another column or table is refused (ERR_DB_DECRYPT) naming the row', () => {
    const db = open(file(), true);
    seed(db);
    expect(db.fetch('people', { orderBy: 'id' }).map((r) => r.card)).toEqual([
      '4111 1111 1111 1111',
      '5500 0000 0000 0004',
    ]);
    const original = db.queryOne<{ card: string }>('SELECT card FROM people WHERE id = 2')!.card;
    move(db, 'UPDATE people SET card = (SELECT ssn FROM people WHERE id = 1) WHERE id = 2');
    const err = expectThrown(() => db.fetch('people'), DatabaseError);
    expect(err.code).toBe('ERR_DB_DECRYPT');
    expect(err.message).toMatch(/column "card" of table "people" \(id 2\).*written for column "ssn" of table "people"/);
    expect(err.details).toMatchObject({ table: 'people', column: 'card', row: 'id 2' });
    // Under an alias too (the column, not the alias, is checked).
    expect(
      expectThrown(() => db.fetch('people', { columns: ['card as c'], where: { id: 2 } }), DatabaseError).code,
    ).toBe('ERR_DB_DECRYPT');
    // The rows the attacker did not touch still read, and nothing else changed.
    expect(db.fetchOne('people', { where: { id: 1 } })).toEqual({
      id: 1,
      name: 'ada',
      ssn: '111-11-1111',
      card: '4111 1111 1111 1111',
    });
    expect(db.fetchOne('people', { columns: ['ssn'], where: { id: 2 } })).toEqual({ ssn: '222-22-2222' });
    // Across tables, into a rowid table: named by rowid.
    move(db, "UPDATE notes SET secret = (SELECT ssn FROM people WHERE id = 2) WHERE body = 'n1'");
    const across = expectThrown(() => db.fetch('notes'), DatabaseError);
    expect(across.message).toMatch(/column "secret" of table "notes" \(rowid 1\).*table "people"/);
    // Putting the token back where it was written makes it open again: the binding is to the place, not the bytes.
    expect(db.execute('UPDATE people SET card = ? WHERE id = 2', [original]).changes).toBe(1);
    expect(db.fetchOne('people', { where: { id: 2 } })?.card).toBe('5500 0000 0000 0004');
  });

  it('turning binding on refuses older unbound tokens until reencrypt() binds them, keeping every value', async () => {
    const f = file();
    const before = open(f, false);
    seed(before);
    await before.close();
    const db = open(f, true);
    const err = expectThrown(() => db.fetch('people'), DatabaseError);
    expect(err.message).toMatch(/not bound to a table and column.*reencrypt/);
    expect(await db.reencrypt('people')).toBe(2);
    expect(await db.reencrypt('notes')).toBe(1);
    expect(db.fetch('people', { orderBy: 'id' }).map((r) => [r.ssn, r.card])).toEqual([
      ['111-11-1111', '4111 1111 1111 1111'],
      ['222-22-2222', '5500 0000 0000 0004'],
    ]);
    expect(db.fetchOne('notes')?.secret).toBe('launch code');
    // A bound token is checked even by a Database opened without the option.
    move(db, 'UPDATE people SET card = (SELECT ssn FROM people WHERE id = 1) WHERE id = 1');
    await db.close();
    const plain = open(f, false);
    expect(expectThrown(() => plain.fetch('people'), DatabaseError).message).toMatch(
      /\(id 1\).*written for column "ssn"/,
    );
  });

  it('a tampered token in a whole-table fetch names its row and column; the other rows are intact', () => {
    const db = open(file(), false);
    seed(db);
    const stored = db.queryOne<{ ssn: string }>('SELECT ssn FROM people WHERE id = 2')!.ssn;
    const flipped = stored.slice(0, 40) + (stored[40] === 'A' ? 'B' : 'A') + stored.slice(41);
    expect(db.execute('UPDATE people SET ssn = ? WHERE id = 2', [flipped]).changes).toBe(1);
    const err = expectThrown(() => db.fetch('people'), DatabaseError);
    expect(err.code).toBe('ERR_DB_DECRYPT');
    expect(err.message).toMatch(/^Cannot decrypt column "ssn" of table "people" \(id 2\):/);
    expect(db.fetch('people', { where: { id: 1 } })).toHaveLength(1);
    expect(db.fetchOne('people', { columns: ['name', 'card'], where: { id: 2 } })).toEqual({
      name: 'bob',
      card: '5500 0000 0000 0004',
    });
  });
});
