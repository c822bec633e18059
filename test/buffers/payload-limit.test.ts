import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/index.js';
import { BufferError, DatabaseBuffer, PersistentQueue, TaskBuffer } from '../../src/buffers/index.js';
import { tempDir } from './helpers.js';

/** The payload cap of API.md section 5 on the SQLite engine: a bigger push throws and stores nothing. */
describe('maxPayloadBytes (SQLite engine)', () => {
  let dir: string;
  const open: { close(): unknown }[] = [];
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function tooLarge(fn: () => unknown): BufferError {
    let caught: unknown;
    try {
      fn();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BufferError);
    expect((caught as BufferError).code).toBe('ERR_BUFFER_PAYLOAD_TOO_LARGE');
    return caught as BufferError;
  }

  it('PersistentQueue refuses a payload over the cap (UTF-8 bytes) and stores nothing', () => {
    const q = new PersistentQueue({ dataDir: dir, name: 'cap', maxPayloadBytes: 1000 });
    open.push(q);
    q.push({ payload: { s: 'x'.repeat(900) } });
    const err = tooLarge(() => q.push({ payload: { s: '€'.repeat(400) } })); // 1200+ bytes, 400 characters
    expect(err.message).toMatch(/maxPayloadBytes \(1000\)/);
    tooLarge(() => q.pushMany([{ payload: 1 }, { payload: 'y'.repeat(2000) }]));
    expect(q.stats()).toEqual({ pending: 1, active: 0, done: 0, failed: 0, dead: 0 });
  });

  it('defaults to 1 MiB', () => {
    const q = new PersistentQueue({ dataDir: dir, name: 'default-cap' });
    open.push(q);
    q.push({ payload: 'a'.repeat(1_048_576 - 2) }); // exactly 1 MiB with its quotes
    tooLarge(() => q.push({ payload: 'a'.repeat(1_048_576 - 1) }));
    expect(q.stats().pending).toBe(1);
  });

  it('TaskBuffer refuses task data over the cap and stores nothing', () => {
    const t = new TaskBuffer({ dataDir: dir, queue: 'cap', maxPayloadBytes: 100, handlers: { T: () => undefined } });
    open.push(t);
    tooLarge(() => t.push('T', { s: 'z'.repeat(200) }));
    tooLarge(() =>
      t.pushMany([
        { type: 'T', data: {} },
        { type: 'T', data: { s: 'z'.repeat(200) } },
      ]),
    );
    expect(t.stats()).toEqual({ pending: 0, active: 0, done: 0, failed: 0, dead: 0 });
  });

  it('DatabaseBuffer refuses a write over the cap and records nothing', () => {
    const main = new Database({ path: path.join(dir, 'main.db') });
    main.execute('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
    const w = new DatabaseBuffer({ mainDb: main, dataDir: dir, maxPayloadBytes: 200 });
    open.push(w, main);
    tooLarge(() => w.insert('notes', [{ body: 'b'.repeat(300) }]));
    expect(w.stats()).toEqual({ pending: 0, active: 0, done: 0, failed: 0, dead: 0 });
    expect(main.count('notes')).toBe(0);
  });

  it('refuses a bad maxPayloadBytes option naming it', () => {
    for (const bad of [0, -1, 1.5, '10', Number.NaN]) {
      expect(() => new PersistentQueue({ dataDir: dir, name: 'x', maxPayloadBytes: bad as number })).toThrow(
        /option "maxPayloadBytes"/,
      );
      expect(() => new TaskBuffer({ dataDir: dir, maxPayloadBytes: bad as number })).toThrow(
        /option "maxPayloadBytes"/,
      );
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
