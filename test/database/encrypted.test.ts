import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database, DatabaseError, Fernet } from '../../src/index.js';
import type { DatabaseOptions } from '../../src/index.js';

let dir: string;
let file: string;
let opened: Database[] = [];

const USERS = { users: 'id INTEGER PRIMARY KEY, name TEXT, ssn ENCRYPTED, secret ENCRYPTED' };

function open(options: DatabaseOptions = {}): Database {
  const db = new Database({ path: file, ...options });
  opened.push(db);
  return db;
}

/** The stored cells, read through a separate raw connection (what is really in the file). */
function stored(sql: string): Record<string, unknown>[] {
  const raw = new BetterSqlite3(file, { readonly: true });
  try {
    return raw.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    raw.close();
  }
}

async function rejection(promise: Promise<unknown>): Promise<DatabaseError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(DatabaseError);
    return err as DatabaseError;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): DatabaseError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DatabaseError);
    return err as DatabaseError;
  }
  throw new Error('expected a DatabaseError, nothing was thrown');
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-dbcrypt-'));
  file = path.join(dir, 'app.db');
  opened = [];
});

afterEach(async () => {
  for (const db of opened) await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Database ENCRYPTED columns', () => {
  it('round-trips strings, numbers, booleans, bigints, bytes, JSON values and null', () => {
    const key = Fernet.generateKey();
    const db = open({ tables: { vals: 'id INTEGER PRIMARY KEY, v ENCRYPTED' }, encryptionKey: key });
    const values: [unknown, unknown][] = [
      ['123-45-6789', '123-45-6789'],
      ['', ''],
      ['naïve ✓ 🙂', 'naïve ✓ 🙂'],
      ['\u0000starts with NUL', '\u0000starts with NUL'],
      ['lone \uD800 surrogate', 'lone \uD800 surrogate'],
      ['42', '42'],
      [42, 42],
      [-3.25, -3.25],
      [true, true],
      [false, false],
      [12345678901234567890n, 12345678901234567890n],
      [Buffer.from([0, 1, 2, 255]), Buffer.from([0, 1, 2, 255])],
      [new Uint8Array([9, 8, 7]), Buffer.from([9, 8, 7])],
      [
        { role: 'admin', tags: ['a', 'b'], n: 1 },
        { role: 'admin', tags: ['a', 'b'], n: 1 },
      ],
      [
        [1, 'two', null],
        [1, 'two', null],
      ],
      [null, null],
      [new Date('2026-12-02T01:02:03.456Z'), '2026-12-02T01:02:03.456Z'],
    ];
    db.insert(
      'vals',
      values.map(([v], i) => ({ id: i + 1, v })),
    );
    const rows = db.fetch('vals', { orderBy: 'id' });
    expect(rows.map((r) => r.v)).toEqual(values.map(([, back]) => back));
    expect(typeof rows[5]!.v).toBe('string'); // the string '42' stays a string, the number 42 a number
    expect(typeof rows[6]!.v).toBe('number');
    expect(Buffer.isBuffer(rows[12]!.v)).toBe(true);
    expect(db.fetchOne('vals', { columns: ['v as value'], where: { id: 14 } })).toEqual({
      value: { role: 'admin', tags: ['a', 'b'], n: 1 },
    });
    // NULL is stored as NULL (not a token), everything else as a TEXT token.
    const kinds = stored('SELECT id, typeof(v) AS t FROM vals ORDER BY id');
    expect(kinds.filter((k) => k.t === 'null').map((k) => k.id)).toEqual([16]);
    expect(kinds.filter((k) => k.t === 'text')).toHaveLength(values.length - 1);
  });

  it('stores Fernet tokens that open with the key, and the plaintext is nowhere in the file', async () => {
    const key = Fernet.generateKey();
    const db = open({ tables: USERS, encryptionKey: key });
    db.insert('users', [
      { id: 1, name: 'Alice', ssn: 'SSN-111-22-3333', secret: { pin: 4321 } },
      { id: 2, name: 'Bob', ssn: 'SSN-444-55-6666' },
    ]);
    db.update('users', { ssn: 'SSN-777-88-9999' }, { id: 2 });
    await db.close();
    const cells = stored('SELECT id, name, ssn, typeof(ssn) AS t, secret FROM users ORDER BY id');
    const fernet = new Fernet(key);
    expect(cells.map((c) => c.t)).toEqual(['text', 'text']);
    expect(cells[0]!.ssn).toMatch(/^gAAAAA[A-Za-z0-9_-]+={0,2}$/);
    expect(fernet.decrypt(cells[0]!.ssn as string).toString('utf8')).toBe('SSN-111-22-3333');
    expect(fernet.decrypt(cells[1]!.ssn as string).toString('utf8')).toBe('SSN-777-88-9999');
    expect(fernet.decrypt(cells[0]!.secret as string)).toEqual(
      Buffer.concat([Buffer.from([0, 0x6a]), Buffer.from('{"pin":4321}')]),
    );
    expect(cells[1]!.secret).toBeNull();
    expect(cells[0]!.name).toBe('Alice');
    const bytes = Buffer.concat(fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f))));
    expect(bytes.includes('Alice')).toBe(true); // the plain column is there, so the search itself works
    expect(bytes.includes('SSN-111')).toBe(false);
    expect(bytes.includes('SSN-777')).toBe(false);
    expect(bytes.includes('4321')).toBe(false);
  });

  it('refuses where, orderBy, JSON paths and conflict targets on ENCRYPTED columns, leaving the data intact', async () => {
    const db = open({ tables: USERS, encryptionKey: Fernet.generateKey() });
    db.insert('users', [
      { id: 1, name: 'Alice', ssn: '111' },
      { id: 2, name: 'Bob', ssn: '222' },
    ]);
    const before = db.fetch('users', { orderBy: 'id' });
    const refusals: [string, () => unknown][] = [
      ['fetch where', () => db.fetch('users', { where: { ssn: '111' } })],
      ['fetch where IN', () => db.fetch('users', { where: { ssn: ['111', '222'] } })],
      ['fetchOne where', () => db.fetchOne('users', { where: { id: 1, ssn: '111' } })],
      ['count', () => db.count('users', { ssn: '111' })],
      ['update where', () => db.update('users', { name: 'Mallory' }, { ssn: '111' })],
      ['delete where', () => db.delete('users', { ssn: '111' })],
      ['orderBy', () => db.fetch('users', { orderBy: 'ssn DESC' })],
      ['JSON path', () => db.fetch('users', { columns: ['secret::pin'] })],
      ['upsert conflict', () => db.upsert('users', { id: 1, ssn: '999' }, { conflict: 'ssn' })],
    ];
    for (const [what, call] of refusals) {
      const err = thrown(call);
      expect(err.code, what).toBe('ERR_DB_ENCRYPTED_QUERY');
      expect(err.message, what).toMatch(/"(ssn|secret)" of table "users" is ENCRYPTED/);
    }
    expect(db.fetch('users', { orderBy: 'id' })).toEqual(before);
    expect(before.map((r) => r.ssn)).toEqual(['111', '222']);
    // IS NULL tells nothing the file does not, so it stays allowed.
    expect(db.fetch('users', { columns: ['id'], where: { secret: null }, orderBy: 'id' })).toEqual([
      { id: 1 },
      { id: 2 },
    ]);
    // Writing ENCRYPTED columns through update and upsert encrypts them.
    db.update('users', { ssn: '333' }, { id: 1 });
    db.upsert('users', { id: 2, name: 'Bob', ssn: '444' });
    expect(db.fetch('users', { columns: ['id', 'ssn'], orderBy: 'id' })).toEqual([
      { id: 1, ssn: '333' },
      { id: 2, ssn: '444' },
    ]);
    await db.close();
    expect(stored('SELECT ssn FROM users').every((r) => String(r.ssn).startsWith('gAAAAA'))).toBe(true);
  });

  it('refuses a table with ENCRYPTED columns and no encryptionKey at declaration, and a malformed key', () => {
    const missing = thrown(() => open({ tables: USERS }));
    expect(missing.code).toBe('ERR_DB_OPTIONS');
    expect(missing.message).toContain('encryptionKey');
    expect(missing.message).toContain('ssn, secret');
    expect(fs.existsSync(file)).toBe(false); // refused before anything was created
    const bad = thrown(() => open({ tables: USERS, encryptionKey: 'not-a-fernet-key' }));
    expect(bad.code).toBe('ERR_DB_OPTIONS');
    expect(bad.message).toContain('encryptionKey');
    expect(thrown(() => open({ tables: USERS, encryptionKey: [] })).code).toBe('ERR_DB_OPTIONS');
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses to read or write ENCRYPTED columns through a Database opened without a key', () => {
    const keyed = open({ tables: USERS, encryptionKey: Fernet.generateKey() });
    keyed.insert('users', { id: 1, name: 'Alice', ssn: '111' });
    const keyless = open();
    expect(thrown(() => keyless.fetch('users')).code).toBe('ERR_DB_OPTIONS');
    expect(thrown(() => keyless.insert('users', { id: 2, ssn: '222' })).code).toBe('ERR_DB_OPTIONS');
    expect(thrown(() => keyless.update('users', { ssn: '333' }, { id: 1 })).code).toBe('ERR_DB_OPTIONS');
    // Plain columns still work, and nothing changed.
    expect(keyless.fetch('users', { columns: ['id', 'name'] })).toEqual([{ id: 1, name: 'Alice' }]);
    expect(keyed.fetch('users')).toEqual([{ id: 1, name: 'Alice', ssn: '111', secret: null }]);
  });

  it('fails with ERR_DB_DECRYPT under a wrong key, never garbage', async () => {
    const right = Fernet.generateKey();
    const db = open({ tables: USERS, encryptionKey: right });
    db.insert('users', { id: 1, name: 'Alice', ssn: '111' });
    await db.close();
    const wrong = open({ tables: USERS, encryptionKey: Fernet.generateKey() });
    const err = thrown(() => wrong.fetch('users'));
    expect(err.code).toBe('ERR_DB_DECRYPT');
    expect(err.message).toContain('column "ssn" of table "users"');
    expect(err.message).not.toContain('gAAAAA');
    expect(thrown(() => wrong.fetchOne('users', { columns: ['ssn'], where: { id: 1 } })).code).toBe('ERR_DB_DECRYPT');
    expect(wrong.fetch('users', { columns: ['name'] })).toEqual([{ name: 'Alice' }]);
    await wrong.close();
    expect(open({ encryptionKey: right }).fetch('users')).toEqual([{ id: 1, name: 'Alice', ssn: '111', secret: null }]);
  });

  it('a tampered token fails alone: ERR_DB_DECRYPT for its row, the other rows read fine', () => {
    const db = open({ tables: USERS, encryptionKey: Fernet.generateKey() });
    db.insert('users', [
      { id: 1, name: 'Alice', ssn: '111' },
      { id: 2, name: 'Bob', ssn: '222' },
    ]);
    const token = db.queryOne<{ ssn: string }>('SELECT ssn FROM users WHERE id = 2')!.ssn;
    // Flip one character in the middle of the ciphertext.
    const at = 60;
    const tampered = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
    db.execute('UPDATE users SET ssn = ? WHERE id = 2', [tampered]);
    expect(thrown(() => db.fetch('users')).code).toBe('ERR_DB_DECRYPT');
    expect(thrown(() => db.fetchOne('users', { where: { id: 2 } })).code).toBe('ERR_DB_DECRYPT');
    expect(db.fetchOne('users', { where: { id: 1 } })).toEqual({ id: 1, name: 'Alice', ssn: '111', secret: null });
    expect(db.fetch('users', { columns: ['id', 'name'], orderBy: 'id' })).toEqual([
      { id: 1, name: 'Alice' },
      { id: 2, name: 'Bob' },
    ]);
  });

  it('refuses values it cannot store, storing nothing', () => {
    const db = open({ tables: USERS, encryptionKey: Fernet.generateKey() });
    for (const bad of [Number.NaN, Infinity, () => 1, Symbol('s')]) {
      expect(thrown(() => db.insert('users', { id: 1, ssn: bad })).code).toBe('ERR_DB_VALUE');
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(
      thrown(() =>
        db.insert('users', [
          { id: 1, ssn: 'ok' },
          { id: 2, ssn: cyclic },
        ]),
      ).code,
    ).toBe('ERR_DB_VALUE');
    expect(db.count('users')).toBe(0);
  });

  it('refuses a token whose plaintext is not a value it writes (unknown tag, invalid UTF-8)', () => {
    const key = Fernet.generateKey();
    const db = open({ tables: USERS, encryptionKey: key });
    const fernet = new Fernet(key);
    db.execute('INSERT INTO users (id, ssn) VALUES (1, ?), (2, ?), (3, ?)', [
      fernet.encrypt(Buffer.from([0, 0x7a, 1])),
      fernet.encrypt(Buffer.from([0xff, 0xfe])),
      fernet.encrypt('fine'),
    ]);
    for (const id of [1, 2]) {
      const err = thrown(() => db.fetchOne('users', { where: { id } }));
      expect(err.code).toBe('ERR_DB_DECRYPT');
      expect(err.message).toContain('not a value this layer writes');
    }
    expect(db.fetchOne('users', { columns: ['ssn'], where: { id: 3 } })).toEqual({ ssn: 'fine' });
  });

  describe('reencrypt (key rotation)', () => {
    it('moves every row to the first key in one go; the old key can then be dropped', async () => {
      const oldKey = Fernet.generateKey();
      const newKey = Fernet.generateKey();
      const first = open({ tables: USERS, encryptionKey: oldKey });
      // More rows than one page of the rotation loop, plus a row without ENCRYPTED values.
      const rows = Array.from({ length: 1203 }, (_, i) => ({
        id: i + 1,
        name: `u${i}`,
        ssn: `ssn-${i}`,
        secret: i % 2 === 0 ? { i } : undefined,
      }));
      first.insert('users', rows);
      first.insert('users', { id: 5000, name: 'no secrets' });
      await first.close();
      const before = stored('SELECT id, ssn FROM users ORDER BY id');

      const both = open({ tables: USERS, encryptionKey: [newKey, oldKey] });
      both.insert('users', { id: 6000, ssn: 'written during the rotation window' });
      expect(await both.reencrypt('users')).toBe(1204);
      await both.close();

      const after = stored('SELECT id, ssn FROM users ORDER BY id');
      expect(after).toHaveLength(before.length + 1);
      for (let i = 0; i < before.length; i++) {
        if (before[i]!.ssn !== null) expect(after[i]!.ssn).not.toBe(before[i]!.ssn);
      }
      const onlyNew = open({ encryptionKey: newKey });
      const read = onlyNew.fetch('users', { orderBy: 'id' });
      expect(read).toHaveLength(1205);
      expect(read.slice(0, 1203)).toEqual(rows.map((r) => ({ ...r, secret: r.secret ?? null })));
      expect(read[1203]).toEqual({ id: 5000, name: 'no secrets', ssn: null, secret: null });
      expect(read[1204]!.ssn).toBe('written during the rotation window');
      await onlyNew.close();
      const onlyOld = open({ encryptionKey: oldKey });
      expect(thrown(() => onlyOld.fetchOne('users', { where: { id: 1 } })).code).toBe('ERR_DB_DECRYPT');
    });

    it('rolls everything back when one token does not open, naming the row', async () => {
      const key = Fernet.generateKey();
      const db = open({ tables: USERS, encryptionKey: [Fernet.generateKey(), key] });
      await db.close();
      const writer = open({ encryptionKey: key });
      writer.insert('users', [
        { id: 1, ssn: 'a' },
        { id: 2, ssn: 'b' },
        { id: 3, ssn: 'c' },
      ]);
      writer.execute('UPDATE users SET ssn = ? WHERE id = 3', [new Fernet(Fernet.generateKey()).encrypt('foreign')]);
      await writer.close();
      const before = stored('SELECT id, ssn FROM users ORDER BY id');
      const rotator = open({ encryptionKey: [Fernet.generateKey(), key] });
      const err = await rejection(rotator.reencrypt('users'));
      expect(err.code).toBe('ERR_DB_DECRYPT');
      expect(err.message).toContain('"ssn"');
      expect(err.message).toContain('rowid 3');
      await rotator.close();
      expect(stored('SELECT id, ssn FROM users ORDER BY id')).toEqual(before);
    });

    it('works on WITHOUT ROWID tables and refuses tables without ENCRYPTED columns', async () => {
      const oldKey = Fernet.generateKey();
      const newKey = Fernet.generateKey();
      // A declaration is a column list (no WITHOUT ROWID), so that table comes from raw SQL.
      const setup = open({ tables: { plain: 'id INTEGER PRIMARY KEY, x TEXT' }, encryptionKey: oldKey });
      setup.execute('CREATE TABLE pairs (a TEXT, b INTEGER, v ENCRYPTED, PRIMARY KEY (a, b)) WITHOUT ROWID');
      setup.insert('pairs', [
        { a: 'x', b: 1, v: 'one' },
        { a: 'x', b: 2, v: { two: 2 } },
      ]);
      await setup.close();
      const rotator = open({ encryptionKey: [newKey, oldKey] });
      expect(await rotator.reencrypt('pairs')).toBe(2);
      const notEncrypted = await rejection(rotator.reencrypt('plain'));
      expect(notEncrypted.code).toBe('ERR_DB_VALUE');
      expect((await rejection(rotator.reencrypt('nope'))).code).toBe('ERR_DB_NO_TABLE');
      await rotator.close();
      expect(open({ encryptionKey: newKey }).fetch('pairs', { orderBy: 'b' })).toEqual([
        { a: 'x', b: 1, v: 'one' },
        { a: 'x', b: 2, v: { two: 2 } },
      ]);
    });
  });

  describe('interoperability with Python cryptography.fernet', () => {
    const probe = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
    const hasPython = probe.status === 0;
    if (!hasPython) {
      console.warn(
        '[encrypted.test] SKIPPED Python interoperability: `python3 -c "import cryptography"` failed on this machine',
      );
    }

    it.skipIf(!hasPython)(
      'reads tokens Python wrote (text, tagged JSON, tagged bytes), and Python reads the text tokens written here',
      () => {
        const key = Fernet.generateKey();
        const db = open({ tables: { vals: 'id INTEGER PRIMARY KEY, v ENCRYPTED' }, encryptionKey: key });
        const script = [
          'import os, json, sqlite3',
          'from cryptography.fernet import Fernet',
          'f = Fernet(os.environ["K"])',
          'con = sqlite3.connect(os.environ["DB"])',
          'con.execute("INSERT INTO vals (id, v) VALUES (1, ?), (2, ?), (3, ?)", (',
          '  f.encrypt("123-45-6789 ✓".encode("utf-8")).decode(),',
          '  f.encrypt(b"\\x00j" + json.dumps({"role": "admin", "n": [1, 2]}).encode()).decode(),',
          '  f.encrypt(b"\\x00b" + bytes([0, 1, 254])).decode()))',
          'con.commit()',
          'print(f.decrypt(con.execute("SELECT v FROM vals WHERE id = 4").fetchone()[0].encode()).decode("utf-8"))',
        ].join('\n');
        db.insert('vals', { id: 4, v: 'from node ✓' });
        const out = execFileSync('python3', ['-c', script], {
          env: { ...process.env, K: key, DB: file },
          encoding: 'utf8',
        }).trim();
        expect(out).toBe('from node ✓');
        expect(db.fetch('vals', { orderBy: 'id' }).map((r) => r.v)).toEqual([
          '123-45-6789 ✓',
          { role: 'admin', n: [1, 2] },
          Buffer.from([0, 1, 254]),
          'from node ✓',
        ]);
      },
    );
  });
});
