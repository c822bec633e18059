import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database, DatabaseError } from '../../src/index.js';
import type { DatabaseOptions, Row } from '../../src/index.js';

let dir: string;
let opened: Database[] = [];

function open(options: DatabaseOptions = {}): Database {
  const db = new Database({ path: path.join(dir, 'app.db'), ...options });
  opened.push(db);
  return db;
}

const USERS = { users: 'id INTEGER PRIMARY KEY, name TEXT, meta JSON' };
const ALL_TYPES = {
  things: 'id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, big INTEGER, flag INTEGER, at TEXT, doc JSON',
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DatabaseError);
    return (err as DatabaseError).code;
  }
  return undefined;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-db-'));
  opened = [];
});

afterEach(async () => {
  for (const db of opened) await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Database', () => {
  it('follows the API.md contract example', () => {
    const db = open({ tables: USERS });
    db.insert('users', [{ id: 1, name: 'Alice', meta: { role: 'admin' } }]);
    expect(db.fetch('users', { columns: ['name', 'meta::role as role'], where: { id: 1 } })).toEqual([
      { name: 'Alice', role: 'admin' },
    ]);
    expect(db.update('users', { name: 'Bob' }, { id: 1 }).changes).toBe(1);
    expect(db.fetch('users')).toEqual([{ id: 1, name: 'Bob', meta: { role: 'admin' } }]);
    expect(db.delete('users', { id: 1 }).changes).toBe(1);
    expect(db.fetch('users')).toEqual([]);
  });

  it('opens in WAL mode with busy_timeout, foreign keys on and synchronous from durability', () => {
    const normal = open({ tables: USERS, busyTimeoutMs: 1234 });
    expect(normal.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(normal.query('PRAGMA busy_timeout')).toEqual([{ timeout: 1234 }]);
    expect(normal.query('PRAGMA foreign_keys')).toEqual([{ foreign_keys: 1 }]);
    expect(normal.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]);
    const full = new Database({ path: path.join(dir, 'full.db'), durability: 'full' });
    opened.push(full);
    expect(full.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
  });

  it('round-trips every type, including nulls and JSON of every shape', () => {
    const db = open({ tables: ALL_TYPES });
    const blob = Buffer.from([0, 1, 2, 255, 0]);
    const big = 2n ** 62n;
    const at = new Date('2024-05-06T07:08:09.010Z');
    db.insert('things', {
      id: 1,
      i: -42,
      r: 3.5,
      t: 'héllo ✓ 𝄞',
      b: blob,
      big,
      flag: true,
      at,
      doc: { a: [1, 'two', null, { deep: true }] },
    });
    db.insert('things', { id: 2, i: null, r: null, t: null, b: null, big: null, flag: false, at: null, doc: null });
    db.insert('things', { id: 3, doc: 'just a string' });
    db.insert('things', { id: 4, doc: 0 });
    db.insert('things', { id: 5, doc: [] });
    db.insert('things', { id: 6, doc: false });
    const rows = db.fetch('things', { orderBy: 'id' });
    expect(rows[0]).toEqual({
      id: 1,
      i: -42,
      r: 3.5,
      t: 'héllo ✓ 𝄞',
      b: blob,
      big: Number(big), // better-sqlite3 reads integers as numbers unless safeIntegers is on
      flag: 1,
      at: '2024-05-06T07:08:09.010Z',
      doc: { a: [1, 'two', null, { deep: true }] },
    });
    expect(rows[1]).toEqual({ id: 2, i: null, r: null, t: null, b: null, big: null, flag: 0, at: null, doc: null });
    expect(rows.slice(2).map((r) => r.doc)).toEqual(['just a string', 0, [], false]);
    // Large integers are stored exactly: read them back through raw() with safeIntegers.
    const exact = db.raw().prepare('SELECT big FROM things WHERE id = 1').safeIntegers(true).get() as { big: bigint };
    expect(exact.big).toBe(big);
    // JSON is stored as JSON text, not "[object Object]".
    expect(db.query('SELECT doc FROM things WHERE id = 1')).toEqual([{ doc: '{"a":[1,"two",null,{"deep":true}]}' }]);
  });

  it('stores values with quotes, backslashes and NUL bytes exactly', () => {
    const db = open({ tables: USERS });
    const nasty = [`O'Brien "the" \\ back`, 'a\u0000b\u0000', "'); DROP TABLE users; --", '\u0000', 'ﬁ \uFEFF \u202E'];
    nasty.forEach((name, id) => db.insert('users', { id, name, meta: { name } }));
    const rows = db.fetch<{ name: string; meta: { name: string } }>('users', { orderBy: 'id' });
    expect(rows.map((r) => r.name)).toEqual(nasty);
    expect(rows.map((r) => r.meta.name)).toEqual(nasty);
    expect(db.fetch('users', { where: { name: 'a\u0000b\u0000' }, columns: ['id'] })).toEqual([{ id: 1 }]);
    expect(db.count('users')).toBe(nasty.length);
  });

  it('reads JSON paths with col::path, nested keys, array indexes, aliases and default names', () => {
    const db = open({ tables: USERS });
    db.insert('users', [
      { id: 1, name: 'A', meta: { role: 'admin', profile: { city: 'Oslo', tags: ['x', 'y'] }, n: 7, s: '7' } },
      { id: 2, name: 'B', meta: { role: 'user' } },
      { id: 3, name: 'C', meta: null },
    ]);
    const rows = db.fetch('users', {
      columns: [
        'id',
        'meta::role',
        'meta::profile.city as city',
        'meta::profile.tags[1] as tag',
        'meta::profile',
        'meta::n',
        'meta::s',
      ],
      orderBy: 'id',
    });
    expect(rows).toEqual([
      { id: 1, role: 'admin', city: 'Oslo', tag: 'y', profile: { city: 'Oslo', tags: ['x', 'y'] }, n: 7, s: '7' },
      { id: 2, role: 'user', city: null, tag: null, profile: null, n: null, s: null },
      { id: 3, role: null, city: null, tag: null, profile: null, n: null, s: null },
    ]);
    // Paths also work in where and orderBy.
    expect(db.fetch('users', { columns: ['name'], where: { 'meta::role': 'user' } })).toEqual([{ name: 'B' }]);
    expect(db.fetch('users', { columns: ['name'], where: { 'meta::profile.city': 'Oslo' } })).toEqual([{ name: 'A' }]);
    expect(db.fetch('users', { columns: ['name'], orderBy: 'meta::role DESC', where: ['meta IS NOT NULL'] })).toEqual([
      { name: 'B' },
      { name: 'A' },
    ]);
  });

  it('supports where objects (null -> IS NULL, arrays -> IN), raw tuples, orderBy, limit and offset', () => {
    const db = open({ tables: USERS });
    db.insert(
      'users',
      Array.from({ length: 10 }, (_, i) => ({ id: i + 1, name: i % 3 === 0 ? null : `n${i}`, meta: { i } })),
    );
    expect(db.fetch('users', { columns: ['id'], where: { name: null } }).map((r) => r.id)).toEqual([1, 4, 7, 10]);
    expect(db.fetch('users', { columns: ['id'], where: { id: [2, 5, 99] } }).map((r) => r.id)).toEqual([2, 5]);
    expect(db.fetch('users', { where: { id: [] } })).toEqual([]);
    expect(db.fetch('users', { columns: ['id'], where: ['id > ? AND name LIKE ?', 7, 'n%'] }).map((r) => r.id)).toEqual(
      [8, 9],
    );
    expect(db.fetch('users', { columns: ['id'], orderBy: 'id DESC', limit: 3 }).map((r) => r.id)).toEqual([10, 9, 8]);
    expect(
      db.fetch('users', { columns: ['id'], orderBy: ['name', 'id DESC'], limit: 2, offset: 4 }).map((r) => r.id),
    ).toEqual([2, 3]);
    expect(db.fetch('users', { columns: ['id'], orderBy: 'id', offset: 8 }).map((r) => r.id)).toEqual([9, 10]);
    expect(db.fetchOne('users', { where: { id: 3 } })).toEqual({ id: 3, name: 'n2', meta: { i: 2 } });
    expect(db.fetchOne('users', { where: { id: 42 } })).toBeUndefined();
    expect(db.count('users', { name: null })).toBe(4);
    // Same shape, different values: the cached statement must rebind, not reuse old values.
    for (let id = 1; id <= 10; id++) expect(db.fetch('users', { columns: ['id'], where: { id } })).toEqual([{ id }]);
  });

  it('rejects undefined in where, bad limits and non-JSON objects, changing nothing', () => {
    const db = open({ tables: USERS });
    db.insert('users', [
      { id: 1, name: 'A' },
      { id: 2, name: 'B' },
    ]);
    expect(codeOf(() => db.delete('users', { id: undefined }))).toBe('ERR_DB_VALUE');
    expect(codeOf(() => db.update('users', { name: 'X' }, { name: undefined }))).toBe('ERR_DB_VALUE');
    expect(codeOf(() => db.fetch('users', { limit: -1 }))).toBe('ERR_DB_VALUE');
    expect(codeOf(() => db.fetch('users', { limit: 1.5 }))).toBe('ERR_DB_VALUE');
    expect(codeOf(() => db.insert('users', { id: 3, name: { not: 'json column' } }))).toBe('ERR_DB_VALUE');
    expect(
      codeOf(() =>
        db.insert('users', [
          { id: 3, name: 'ok' },
          { id: 4, name: Symbol('x') as unknown },
        ]),
      ),
    ).toBe('ERR_DB_VALUE');
    expect(db.fetch('users', { columns: ['id', 'name'], orderBy: 'id' })).toEqual([
      { id: 1, name: 'A' },
      { id: 2, name: 'B' },
    ]);
  });

  it('inserts many rows in one transaction: a failing row rolls back the whole batch', () => {
    const db = open({ tables: USERS });
    db.insert('users', { id: 1, name: 'first' });
    const result = db.insert('users', [
      { id: 2, name: 'b' },
      { id: 3, name: 'c' },
    ]);
    expect(result).toEqual({ changes: 2, lastInsertRowid: 3 });
    expect(
      codeOf(() =>
        db.insert('users', [
          { id: 4, name: 'd' },
          { id: 1, name: 'dup' },
        ]),
      ),
    ).toBe('ERR_DB_CONSTRAINT');
    expect(db.fetch('users', { columns: ['id'], orderBy: 'id' }).map((r) => r.id)).toEqual([1, 2, 3]);
    expect(db.insert('users', [])).toEqual({ changes: 0, lastInsertRowid: 0 });
  });

  it('never reuses a cached statement for a different call shape', () => {
    const db = open({ tables: { t: 'id INTEGER PRIMARY KEY, a TEXT, b TEXT, j JSON' } });
    // Alternate key sets and key orders: each insert must bind by name, whatever ran before.
    db.insert('t', { id: 1, a: 'a1', b: 'b1' });
    db.insert('t', { b: 'b2', a: 'a2', id: 2 });
    db.insert('t', { id: 3, a: 'a3' });
    db.insert('t', { id: 4, a: 'a4', b: 'b4', j: { k: 4 } });
    db.insert('t', { id: 5, a: 'a5', b: undefined });
    db.insert('t', { j: [5], id: 6 });
    expect(db.fetch('t', { orderBy: 'id' })).toEqual([
      { id: 1, a: 'a1', b: 'b1', j: null },
      { id: 2, a: 'a2', b: 'b2', j: null },
      { id: 3, a: 'a3', b: null, j: null },
      { id: 4, a: 'a4', b: 'b4', j: { k: 4 } },
      { id: 5, a: 'a5', b: null, j: null },
      { id: 6, a: null, b: null, j: [5] },
    ]);
    const ids = (rows: Row[]): unknown[] => rows.map((r) => r.id);
    expect(ids(db.fetch('t', { where: { id: 2 } }))).toEqual([2]);
    expect(ids(db.fetch('t', { where: { a: 'a3' } }))).toEqual([3]);
    expect(ids(db.fetch('t', { where: { a: 'a4', b: 'b4' } }))).toEqual([4]);
    expect(ids(db.fetch('t', { where: { b: 'b4', a: 'a4' } }))).toEqual([4]);
    expect(ids(db.fetch('t', { where: { b: null }, orderBy: 'id' }))).toEqual([3, 5, 6]);
    expect(ids(db.fetch('t', { where: { id: [1, 6] }, orderBy: 'id' }))).toEqual([1, 6]);
    expect(ids(db.fetch('t', { where: { id: 2 }, limit: 0 }))).toEqual([]);
    expect(ids(db.fetch('t', { where: { id: 2 } }))).toEqual([2]);
    expect(ids(db.fetch('t', { where: ['id = ?', 5] }))).toEqual([5]);
    expect(ids(db.fetch('t', { where: { id: 5 }, orderBy: 'id DESC' }))).toEqual([5]);
    expect(ids(db.fetch('t', { orderBy: 'id DESC', limit: 2 }))).toEqual([6, 5]);
    expect(ids(db.fetch('t', { orderBy: 'id ASC', limit: 2 }))).toEqual([1, 2]);
    expect(db.fetch('t', { columns: ['a'], where: { id: 1 } })).toEqual([{ a: 'a1' }]);
    expect(db.fetch('t', { columns: ['b'], where: { id: 1 } })).toEqual([{ b: 'b1' }]);
    expect(db.fetch('t', { columns: ['j::k'], where: { id: 4 } })).toEqual([{ k: 4 }]);
    expect(db.fetch('t', { columns: ['j'], where: { j: { k: 4 } } })).toEqual([{ j: { k: 4 } }]);
  });

  it('quotes identifiers, so SQL keywords work as table and column names', () => {
    const db = open({ tables: { select: '"from" INTEGER PRIMARY KEY, "order" TEXT, "group" JSON' } });
    db.insert('select', { from: 1, order: 'o', group: { where: 'w' } });
    db.update('select', { order: 'p' }, { from: 1 });
    expect(
      db.fetch('select', { columns: ['order', 'group::where as where'], where: { from: 1 }, orderBy: 'order' }),
    ).toEqual([{ order: 'p', where: 'w' }]);
  });

  it('upgrades a shared connection to synchronous=FULL when a later user asks for it, never down', () => {
    const a = open({ tables: USERS });
    expect(a.queryOne('PRAGMA synchronous')).toEqual({ synchronous: 1 });
    const b = open({ durability: 'full' });
    expect(a.queryOne('PRAGMA synchronous')).toEqual({ synchronous: 2 });
    open({ durability: 'normal' });
    expect(b.queryOne('PRAGMA synchronous')).toEqual({ synchronous: 2 });
  });

  it('accepts interface-typed rows', () => {
    interface User {
      id: number;
      name: string;
      meta: { role: string };
    }
    const db = open({ tables: USERS });
    const user: User = { id: 1, name: 'A', meta: { role: 'r' } };
    db.insert('users', user);
    db.upsert('users', [user]);
    db.update('users', { name: 'B' } as Partial<User>, { id: user.id });
    expect(db.fetchOne<Row & User>('users', { where: { id: 1 } })?.meta.role).toBe('r');
  });

  it('omits undefined keys on insert (defaults apply) and on update (column unchanged)', () => {
    const db = open({ tables: { t: "id INTEGER PRIMARY KEY, a TEXT DEFAULT 'dflt', b TEXT" } });
    db.insert('t', { id: 1, a: undefined, b: 'x' });
    db.insert('t', {});
    db.update('t', { a: undefined, b: 'y' }, { id: 1 });
    expect(db.fetch('t', { orderBy: 'id' })).toEqual([
      { id: 1, a: 'dflt', b: 'y' },
      { id: 2, a: 'dflt', b: null },
    ]);
    expect(codeOf(() => db.update('t', { a: undefined }, { id: 1 }))).toBe('ERR_DB_VALUE');
  });

  it('upserts on the primary key by default, on a named unique column, or does nothing', () => {
    const db = open({
      tables: { ...USERS, emails: 'id INTEGER PRIMARY KEY, email TEXT UNIQUE, hits INTEGER, meta JSON' },
    });
    db.upsert('users', { id: 1, name: 'A', meta: { v: 1 } });
    db.upsert('users', [
      { id: 1, name: 'A2', meta: { v: 2 } },
      { id: 2, name: 'B' },
    ]);
    expect(db.fetch('users', { orderBy: 'id' })).toEqual([
      { id: 1, name: 'A2', meta: { v: 2 } },
      { id: 2, name: 'B', meta: null },
    ]);
    db.upsert('emails', { email: 'a@x', hits: 1 }, { conflict: 'email' });
    db.upsert('emails', { email: 'a@x', hits: 5, meta: [1] }, { conflict: ['email'], update: ['hits'] });
    db.upsert('emails', { email: 'a@x', hits: 9 }, { conflict: 'email', update: [] });
    expect(db.fetch('emails', { columns: ['email', 'hits', 'meta'] })).toEqual([{ email: 'a@x', hits: 5, meta: null }]);
    expect(codeOf(() => db.upsert('emails', { email: 'b@x' }, { conflict: 'nope' }))).toBe('ERR_DB_IDENTIFIER');
    expect(db.count('emails')).toBe(1);
  });

  it('runs raw query/queryOne/execute with positional and named parameters', () => {
    const db = open({ tables: USERS });
    expect(db.execute('INSERT INTO users (id, name) VALUES (?, ?)', [1, 'A'])).toEqual({
      changes: 1,
      lastInsertRowid: 1,
    });
    db.execute('INSERT INTO users (id, name) VALUES (@id, @name)', { id: 2, name: 'B' });
    // Booleans bind as 1/0.
    expect(db.query('SELECT id, name FROM users WHERE id > ? AND ? = 1 ORDER BY id', [0, true])).toEqual([
      { id: 1, name: 'A' },
      { id: 2, name: 'B' },
    ]);
    expect(db.query('SELECT id FROM users WHERE @flag = 1', { flag: false })).toEqual([]);
    expect(db.queryOne('SELECT COUNT(*) AS n FROM users')).toEqual({ n: 2 });
    expect(codeOf(() => db.execute('DELETE FROM users; DROP TABLE users'))).toBe('ERR_DB_QUERY');
    expect(codeOf(() => db.query('SELEC nonsense'))).toBe('ERR_DB_QUERY');
    expect(db.count('users')).toBe(2);
  });

  it('sees columns added by ALTER TABLE and tables created later through execute', () => {
    const db = open({ tables: USERS });
    db.execute('ALTER TABLE users ADD COLUMN extra JSON');
    db.insert('users', { id: 1, extra: { x: 1 } });
    expect(db.fetch('users', { columns: ['extra::x as x', 'extra'] })).toEqual([{ x: 1, extra: { x: 1 } }]);
    db.execute('CREATE TABLE later (k TEXT PRIMARY KEY, v JSON)');
    db.insert('later', { k: 'a', v: [1, 2] });
    expect(db.fetch('later')).toEqual([{ k: 'a', v: [1, 2] }]);
  });

  it('detects JSON columns of existing tables from PRAGMA table_info', () => {
    const file = path.join(dir, 'app.db');
    const raw = new BetterSqlite3(file);
    raw.exec(`CREATE TABLE legacy (id INTEGER PRIMARY KEY, payload JSON); INSERT INTO legacy VALUES (1, '{"a":[1]}')`);
    raw.close();
    const db = open();
    expect(db.fetch('legacy')).toEqual([{ id: 1, payload: { a: [1] } }]);
    db.insert('legacy', { id: 2, payload: { b: 'c' } });
    expect(db.fetchOne('legacy', { columns: ['payload::b as b'], where: { id: 2 } })).toEqual({ b: 'c' });
  });

  describe('transaction', () => {
    it('commits on return and rolls back on throw, rethrowing the caller error unchanged', () => {
      const db = open({ tables: USERS });
      const value = db.transaction(() => {
        db.insert('users', { id: 1, name: 'A' });
        return 'done';
      });
      expect(value).toBe('done');
      class Boom extends Error {}
      expect(() =>
        db.transaction(() => {
          db.insert('users', { id: 2, name: 'B' });
          throw new Boom('boom');
        }),
      ).toThrow(Boom);
      expect(db.fetch('users', { columns: ['id'] })).toEqual([{ id: 1 }]);
    });

    it('nests with savepoints: an inner failure rolls back only the inner part', () => {
      const db = open({ tables: USERS });
      db.transaction(() => {
        db.insert('users', { id: 1 });
        expect(() =>
          db.transaction(() => {
            db.insert('users', { id: 2 });
            throw new Error('inner');
          }),
        ).toThrow('inner');
        db.transaction(() => db.insert('users', { id: 3 }));
      });
      expect(db.fetch('users', { columns: ['id'], orderBy: 'id' }).map((r) => r.id)).toEqual([1, 3]);
    });

    it('takes the write lock up front (BEGIN IMMEDIATE)', () => {
      const db = open({ tables: USERS });
      const other = new BetterSqlite3(path.join(dir, 'app.db'), { timeout: 0 });
      try {
        db.transaction(() => {
          // Another connection cannot start writing while we hold the lock, even before our first write.
          expect(() => other.exec('BEGIN IMMEDIATE')).toThrow(/locked|busy/i);
        });
      } finally {
        other.close();
      }
    });

    it('rejects async functions and promise results with ERR_DB_ASYNC_TRANSACTION, rolling back', () => {
      const db = open({ tables: USERS });
      expect(codeOf(() => db.transaction(async () => db.insert('users', { id: 1 })))).toBe('ERR_DB_ASYNC_TRANSACTION');
      expect(
        codeOf(() =>
          db.transaction(() => {
            db.insert('users', { id: 2 });
            return Promise.resolve();
          }),
        ),
      ).toBe('ERR_DB_ASYNC_TRANSACTION');
      expect(db.count('users')).toBe(0);
      // The connection is usable afterwards.
      db.transaction(() => db.insert('users', { id: 3 }));
      expect(db.count('users')).toBe(1);
    });
  });

  describe('shared connection', () => {
    it('shares one handle per path; close() of the last user closes it; close() is idempotent', async () => {
      const a = open({ tables: USERS });
      const b = new Database({ path: path.join(dir, '.', 'app.db') });
      expect(b.raw()).toBe(a.raw());
      const handle = a.raw();
      await a.close();
      await a.close();
      expect(a.closed).toBe(true);
      expect(codeOf(() => a.fetch('users'))).toBe('ERR_DB_CLOSED');
      expect(handle.open).toBe(true);
      b.insert('users', { id: 1 });
      await b.close();
      expect(handle.open).toBe(false);
      const c = open();
      expect(c.raw()).not.toBe(handle);
      expect(c.count('users')).toBe(1);
    });

    it('gives each in-memory database its own connection', async () => {
      const a = new Database({ tables: USERS });
      const b = new Database({ tables: USERS });
      a.insert('users', { id: 1 });
      expect(b.count('users')).toBe(0);
      await a.close();
      await b.close();
    });
  });

  describe('migrations', () => {
    const migrations = [
      'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)',
      'ALTER TABLE notes ADD COLUMN tags JSON',
      (db: Database): void => {
        db.insert('notes', { id: 1, body: 'seeded', tags: ['m3'] });
      },
    ];

    it('applies each migration once, in order, tracked with user_version', async () => {
      const db = open({ migrations });
      expect(db.queryOne('PRAGMA user_version')).toEqual({ user_version: 3 });
      expect(db.fetch('notes')).toEqual([{ id: 1, body: 'seeded', tags: ['m3'] }]);
      await db.close();
      const again = open({ migrations });
      expect(again.count('notes')).toBe(1);
      const more = open({ migrations: [...migrations, "INSERT INTO notes (body) VALUES ('m4')"] });
      expect(more.queryOne('PRAGMA user_version')).toEqual({ user_version: 4 });
      expect(more.count('notes')).toBe(2);
    });

    it('rolls back a failing migration and keeps earlier ones', () => {
      let err: unknown;
      try {
        open({ migrations: [migrations[0] as string, 'INSERT INTO notes (id) VALUES (1); THIS IS NOT SQL'] });
      } catch (e) {
        err = e;
      }
      expect((err as DatabaseError).code).toBe('ERR_DB_MIGRATION');
      const db = open();
      expect(db.queryOne('PRAGMA user_version')).toEqual({ user_version: 1 });
      expect(db.count('notes')).toBe(0);
    });
  });

  it('opens read-only: reads work, writes throw ERR_DB_READONLY and change nothing', () => {
    const rw = open({ tables: USERS });
    rw.insert('users', { id: 1, name: 'A', meta: { x: 1 } });
    const ro = open({ readonly: true });
    expect(ro.fetch('users')).toEqual([{ id: 1, name: 'A', meta: { x: 1 } }]);
    expect(codeOf(() => ro.insert('users', { id: 2 }))).toBe('ERR_DB_READONLY');
    expect(codeOf(() => ro.execute('DELETE FROM users'))).toBe('ERR_DB_READONLY');
    expect(codeOf(() => ro.query('DELETE FROM users RETURNING id'))).toBe('ERR_DB_READONLY');
    expect(ro.transaction(() => ro.count('users'))).toBe(1);
    expect(rw.count('users')).toBe(1);
    expect(codeOf(() => new Database({ path: path.join(dir, 'missing.db'), readonly: true }))).toBe('ERR_DB_OPTIONS');
  });

  it('validates options, naming the bad option', () => {
    expect(() => new Database({ durability: 'fast' as 'full' })).toThrow(/durability/);
    expect(() => new Database({ busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs/);
    expect(() => new Database({ tables: { users: '' } })).toThrow(/tables\.users/);
    expect(codeOf(() => new Database({ tables: { users: 'id INTEGER); DROP TABLE x; --' } }))).toBe('ERR_DB_QUERY');
  });
});
