import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database, DatabaseError } from '../../src/index.js';
import { expectThrown } from '../helpers.js';

let dir: string;
let db: Database;

const ATTACKS = [
  'users; DROP TABLE x',
  'users; DROP TABLE users',
  'users"; DROP TABLE users; --',
  "users'; DROP TABLE users; --",
  '"users"',
  '`users`',
  '[users]',
  'users--',
  'users /* c */',
  'users WHERE 1=1',
  'name) VALUES (1); DROP TABLE users; --',
  'usеrs', // Cyrillic е
  'ｕsers', // fullwidth u
  'users\u200b', // zero-width space
  'users\u0000',
  'na\u0301me', // combining accent
  '',
  ' users',
  '1users',
  'x'.repeat(200),
];

function expectRejected(fn: () => unknown, code = 'ERR_DB_IDENTIFIER'): void {
  expect(expectThrown(fn, DatabaseError).code).toBe(code);
}

function expectIntact(): void {
  // Both tables still exist with exactly their original rows.
  expect(db.fetch('users', { orderBy: 'id' })).toEqual([
    { id: 1, name: 'Alice', meta: { role: 'admin' } },
    { id: 2, name: 'Bob', meta: { role: 'user' } },
  ]);
  expect(db.fetch('x')).toEqual([{ id: 1 }]);
  expect(db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).toEqual([
    { name: 'users' },
    { name: 'x' },
  ]);
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-db-ident-'));
  db = new Database({
    path: path.join(dir, 'app.db'),
    tables: { users: 'id INTEGER PRIMARY KEY, name TEXT, meta JSON', x: 'id INTEGER PRIMARY KEY' },
  });
  db.insert('users', [
    { id: 1, name: 'Alice', meta: { role: 'admin' } },
    { id: 2, name: 'Bob', meta: { role: 'user' } },
  ]);
  db.insert('x', { id: 1 });
});

afterEach(async () => {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Database identifiers', () => {
  it.each(ATTACKS)('rejects %j as a table name in every method, table intact', (name) => {
    expectRejected(() => db.fetch(name));
    expectRejected(() => db.fetchOne(name));
    expectRejected(() => db.count(name));
    expectRejected(() => db.insert(name, { id: 9 }));
    expectRejected(() => db.upsert(name, { id: 9 }));
    expectRejected(() => db.update(name, { name: 'z' }, { id: 1 }));
    expectRejected(() => db.delete(name, { id: 1 }));
    expectIntact();
  });

  it.each(ATTACKS)('rejects %j as a column in insert/update/where/columns/orderBy, table intact', (name) => {
    expectRejected(() => db.insert('users', { id: 9, [name]: 'v' }));
    expectRejected(() => db.insert('users', [{ id: 9 }, { id: 10, [name]: 'v' }]));
    expectRejected(() => db.upsert('users', { id: 1, [name]: 'v' }));
    expectRejected(() => db.update('users', { [name]: 'v' }, { id: 1 }));
    expectRejected(() => db.update('users', { name: 'v' }, { [name]: 1 }));
    expectRejected(() => db.delete('users', { [name]: 1 }));
    expectRejected(() => db.fetch('users', { columns: [name] }));
    expectRejected(() => db.fetch('users', { where: { [name]: 1 } }));
    expectRejected(() => db.fetch('users', { orderBy: name === '' ? ' ' : name }));
    expectRejected(() => db.count('users', { [name]: null }));
    expectIntact();
  });

  it('rejects columns that match the pattern but do not exist', () => {
    expectRejected(() => db.insert('users', { id: 9, nope: 1 }));
    expectRejected(() => db.fetch('users', { columns: ['nope'] }));
    expectRejected(() => db.update('users', { nope: 1 }, { id: 1 }));
    expectRejected(() => db.fetch('nope'), 'ERR_DB_NO_TABLE');
    expectIntact();
  });

  it.each([
    "meta::role'); DROP TABLE users; --",
    "meta::role' || '",
    'meta::a..b',
    'meta::',
    'meta::a b',
    'meta::[x]',
    'meta::a[1',
    'meta::a[-1]',
    'meta::$.role',
    'meta::rоle', // Cyrillic о
    'meta::role as "x"',
    'meta::role as x; DROP TABLE users',
    'meta::role as',
    'name as x y',
  ])('rejects the malformed JSON path or alias %j, table intact', (spec) => {
    expectRejected(() => db.fetch('users', { columns: [spec] }));
    expectRejected(() => db.fetch('users', { where: { [spec]: 'admin' } }));
    expectIntact();
  });

  it.each(['id; DROP TABLE users', 'id ASC; DROP TABLE x', 'id DESCENDING', 'id ASC DESC', "id COLLATE 'x'"])(
    'rejects the orderBy %j, table intact',
    (orderBy) => {
      expectRejected(() => db.fetch('users', { orderBy }));
      expectIntact();
    },
  );

  it('rejects non-string identifiers', () => {
    expectRejected(() => db.fetch(42 as unknown as string));
    expectRejected(() => db.fetch('users', { columns: [{ toString: () => 'id' } as unknown as string] }));
    expectIntact();
  });

  it('rejects a bad table name in the tables option before touching the file', () => {
    expectRejected(
      () => new Database({ path: path.join(dir, 'other.db'), tables: { 'a; DROP TABLE x': 'id INTEGER' } }),
    );
    expect(fs.existsSync(path.join(dir, 'other.db'))).toBe(false);
  });

  it('accepts every valid identifier shape', () => {
    const extra = new Database({ path: path.join(dir, 'app.db'), tables: { _T2: '_c INTEGER, C9_x TEXT' } });
    try {
      extra.insert('_T2', { _c: 1, C9_x: 'ok' });
      expect(extra.fetch('_T2', { columns: ['_c as A_1', 'C9_x'], orderBy: '_c desc' })).toEqual([
        { A_1: 1, C9_x: 'ok' },
      ]);
      expect(extra.fetch('_T2', { columns: ['rowid'] })).toEqual([{ rowid: 1 }]);
    } finally {
      void extra.close();
    }
  });
});
