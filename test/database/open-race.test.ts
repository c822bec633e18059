import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/index.js';
import { tempDir } from '../helpers.js';

describe('Database (processes opening a new file together)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });

  it('lets six processes create the same file at the same instant without SQLITE_BUSY', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const children = 6;
    const rounds = 8;
    const startAt = Date.now() + 4000; // every child is up and spinning before the first round
    const results = await Promise.all(
      Array.from({ length: children }, () => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'test/database/fixtures/opener.ts', dir, String(startAt), String(rounds)],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        return new Promise<{ code: number | null; out: string }>((resolve) =>
          child.on('exit', (code) => resolve({ code, out })),
        );
      }),
    );
    for (const r of results) expect(r, r.out).toMatchObject({ code: 0 });
    for (let round = 0; round < rounds; round++) {
      const db = new Database({ path: `${dir}/race-${round}.db` });
      expect(db.count('hits')).toBe(children);
      expect(db.query('PRAGMA journal_mode')[0]).toEqual({ journal_mode: 'wal' });
      await db.close();
    }
  }, 30_000);
});
