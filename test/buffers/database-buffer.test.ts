import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/index.js';
import { BufferError, DatabaseBuffer, PersistentQueue, type BufferedWrite } from '../../src/buffers/index.js';
import { tempDir } from './helpers.js';
import { expectThrown } from '../helpers.js';

const WRITER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'db-writer.ts');

function runWriter(
  args: Record<string, unknown>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', WRITER, JSON.stringify(args)], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent' },
  });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 45_000);
  return new Promise((resolve) =>
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    }),
  );
}

describe('DatabaseBuffer', () => {
  let dir: string;
  let mainPath: string;
  let main: Database;
  const opened: { stop(): Promise<void> }[] = [];

  beforeEach(() => {
    dir = tempDir();
    mainPath = path.join(dir, 'app.db');
    main = new Database({
      path: mainPath,
      tables: {
        users: 'id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, meta JSON',
        log: 'id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL',
      },
    });
  });
  afterEach(async () => {
    for (const b of opened.splice(0)) await b.stop();
    await main.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function buffer(opts: ConstructorParameters<typeof DatabaseBuffer>[0] = {}): DatabaseBuffer {
    const b = new DatabaseBuffer({ mainDb: main, dataDir: dir, ...opts });
    opened.push(b);
    return b;
  }

  it('applies writes in call order across batches, one transaction per batch', async () => {
    const writes = buffer({ batchSize: 7 });
    const batches: number[] = [];
    writes.on('applied', (n) => batches.push(n));
    for (let i = 1; i <= 30; i++) {
      writes.insert('users', { id: i, name: `u${i}`, meta: { n: i } });
      writes.update('users', { name: `renamed${i}` }, { id: i });
      if (i % 3 === 0) writes.delete('users', { id: i });
      writes.insert('log', { seq: i });
    }
    writes.execute('UPDATE users SET name = ? WHERE id = ?', ['last', 1]);
    await writes.flush();
    const users = main.fetch<{ id: number; name: string; meta: { n: number } }>('users', { orderBy: 'id' });
    expect(users.map((u) => u.id)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1).filter((i) => i % 3 !== 0));
    expect(users[0]).toEqual({ id: 1, name: 'last', meta: { n: 1 } });
    expect(users[1]).toEqual({ id: 2, name: 'renamed2', meta: { n: 2 } });
    expect(main.query<{ seq: number }>('SELECT seq FROM log ORDER BY id').map((r) => r.seq)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    expect(batches.every((n) => n <= 7)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(101);
    expect(writes.stats()).toEqual({ pending: 0, active: 0, done: 101, failed: 0, dead: 0 });
  });

  it('applies in the background once started, woken by the write itself', async () => {
    const writes = buffer({ pollIntervalMs: 60_000 }).start();
    const applied = new Promise<number>((r) => writes.once('applied', r));
    writes.insert('users', [{ name: 'Alice' }, { name: 'Bob' }]);
    expect(await applied).toBe(1);
    expect(main.fetch('users', { columns: ['name'], orderBy: 'id' })).toEqual([{ name: 'Alice' }, { name: 'Bob' }]);
  });

  it('dead-letters a write that fails on its own and applies the others in order', async () => {
    const hook: [string, unknown, string][] = [];
    const dead: BufferedWrite[] = [];
    const writes = buffer({ onError: (op, data, err) => hook.push([op, data, err.message]) });
    writes.on('dead', (w) => dead.push(w));
    writes.insert('users', { name: 'Alice' });
    writes.insert('log', { seq: 1 });
    writes.insert('users', { name: 'Alice' }); // UNIQUE violation
    writes.insert('log', { seq: 2 });
    writes.insert('nope_table', { x: 1 }); // no such table
    writes.insert('log', { seq: 3 });
    await writes.flush();
    expect(main.query<{ seq: number }>('SELECT seq FROM log ORDER BY id').map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(main.count('users')).toBe(1);
    expect(writes.stats()).toMatchObject({ done: 4, dead: 2, pending: 0, active: 0 });
    expect(dead.map((w) => (w as { table: string }).table)).toEqual(['users', 'nope_table']);
    expect(hook.map(([op]) => op)).toEqual(['insert', 'insert']);
    const letters = writes.deadLetters();
    expect(letters.map((l) => l.write)).toEqual([
      { op: 'insert', table: 'nope_table', rows: { x: 1 } },
      { op: 'insert', table: 'users', rows: { name: 'Alice' } },
    ]);
    expect(letters[1]!.error).toMatch(/UNIQUE/);
  });

  it('rejects malformed writes with clear errors and leaves both databases intact', async () => {
    const writes = buffer();
    writes.insert('users', { name: 'keep' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: [() => unknown, string, RegExp][] = [
      [
        () => writes.insert('users; DROP TABLE users', { name: 'x' }),
        'ERR_BUFFER_INVALID_INPUT',
        /table must be a plain identifier/,
      ],
      [() => writes.insert('users', []), 'ERR_BUFFER_INVALID_INPUT', /non-empty array/],
      [() => writes.insert('users', 'x' as never), 'ERR_BUFFER_INVALID_INPUT', /row object/],
      [() => writes.insert('users', { name: 'x', big: 1n }), 'ERR_BUFFER_INVALID_PAYLOAD', /bigint/],
      [() => writes.insert('users', { name: 'x', meta: cyclic }), 'ERR_BUFFER_INVALID_PAYLOAD', /circular/],
      [() => writes.update('users', { name: () => 'x' }, { id: 1 }), 'ERR_BUFFER_INVALID_PAYLOAD', /function/],
      [() => writes.update('users', { name: 'x' }, 5 as never), 'ERR_BUFFER_INVALID_INPUT', /where must be/],
      [() => writes.delete('users', null as never), 'ERR_BUFFER_INVALID_INPUT', /where must be/],
      [() => writes.execute('  '), 'ERR_BUFFER_INVALID_INPUT', /sql must be/],
    ];
    for (const [fn, code, msg] of bad) {
      const err = expectThrown(fn, BufferError);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(msg);
    }
    expect(writes.stats()).toEqual({ pending: 1, active: 0, done: 0, failed: 0, dead: 0 });
    await writes.flush();
    expect(main.fetch('users', { columns: ['name'] })).toEqual([{ name: 'keep' }]);
    expect(() => new DatabaseBuffer({ dataDir: dir })).toThrow(/option "mainDb"/);
    expect(() => new DatabaseBuffer({ mainDb: main, dataDir: dir, batchSize: 0 })).toThrow(/option "batchSize"/);
  });

  it('stop() applies what is recorded, is idempotent, and leaves a passed-in Database open', async () => {
    const writes = buffer();
    writes.insert('log', { seq: 7 });
    await writes.stop();
    await writes.stop();
    expect(() => writes.insert('log', { seq: 8 })).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_CLOSED' }));
    expect(main.query('SELECT seq FROM log')).toEqual([{ seq: 7 }]);
  });

  it('a path mainDb is opened and closed by the buffer; recorded writes survive a restart', async () => {
    const other = path.join(dir, 'other.db');
    const pre = new Database({ path: other, tables: { t: 'v INTEGER' } });
    await pre.close();
    const first = new DatabaseBuffer({ mainDb: other, dataDir: dir });
    first.insert('t', { v: 1 });
    // Simulate an abrupt end of the first owner: its recorded write is only in the queue store.
    const q = new PersistentQueue({ dataDir: dir, name: first.queue });
    expect(q.stats().pending).toBe(1);
    await q.close();
    const second = new DatabaseBuffer({ mainDb: other, dataDir: dir });
    await second.flush();
    await second.stop();
    await first.stop();
    const check = new Database({ path: other });
    expect(check.query('SELECT v FROM t')).toEqual([{ v: 1 }]);
    await check.close();
  });

  for (const crash of ['mid-batch', 'after-commit'] as const) {
    it(`replays after a SIGKILL ${crash === 'mid-batch' ? 'inside a batch' : 'between the main commit and the queue update'}: every write once, in order`, async () => {
      const n = 200;
      const first = await runWriter({ dataDir: dir, mainDb: mainPath, mode: 'push', n, crash });
      expect(first.signal, first.out).toBe('SIGKILL');
      expect(first.out).toContain('pushed');
      const before = main.query<{ seq: number }>('SELECT seq FROM log ORDER BY id').map((r) => r.seq);
      // The kill really hit mid-way: some or no writes applied, never all.
      expect(before.length).toBeLessThan(n);
      if (crash === 'after-commit') expect(before.length).toBeGreaterThan(0); // the first batch's commit landed
      const replay = await runWriter({ dataDir: dir, mainDb: mainPath, mode: 'replay', n, crash });
      expect(replay.code, replay.out).toBe(0);
      expect(replay.out).toContain('flushed');
      const seqs = main.query<{ seq: number }>('SELECT seq FROM log ORDER BY id').map((r) => r.seq);
      expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(main.queryOne('SELECT value FROM counter WHERE id = 1')).toEqual({ value: n - 1 });
      const q = new PersistentQueue({ dataDir: dir, name: 'writes' });
      expect(q.stats()).toEqual({ pending: 0, active: 0, done: 2 * n, failed: 0, dead: 0 });
      await q.close();
    }, 90_000);
  }
});
