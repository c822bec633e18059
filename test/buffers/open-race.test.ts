import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PersistentQueue } from '../../src/buffers/index.js';
import { tempDir } from '../helpers.js';

describe('PersistentQueue (processes opening a new queue file together)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });

  it('lets six processes create the same queue file at the same instant, push and claim, without a lock error or a lost job', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const children = 6;
    const rounds = 10;
    const jobs = 40;
    const startAt = Date.now() + 4000; // every child is up and spinning before the first round
    const results = await Promise.all(
      Array.from({ length: children }, () => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            'test/buffers/fixtures/queue-opener.ts',
            dir,
            String(startAt),
            String(rounds),
            String(jobs),
          ],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        return new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
          child.on('exit', (code) => resolve({ code, out, err })),
        );
      }),
    );
    for (const r of results) {
      expect(r.err).not.toMatch(/locked|SQLITE_BUSY/i);
      expect(r, r.err).toMatchObject({ code: 0 });
    }
    const perRound = results.map((r) =>
      r.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { pushed: number[]; completed: number[] }),
    );
    for (let round = 0; round < rounds; round++) {
      const pushed = perRound.flatMap((c) => c[round]!.pushed);
      const completed = perRound.flatMap((c) => c[round]!.completed);
      // Every push got its own id, and every pushed job was completed exactly once, by one of the processes.
      expect(new Set(pushed).size).toBe(children * jobs);
      expect([...completed].sort((a, b) => a - b)).toEqual([...pushed].sort((a, b) => a - b));
      const queue = new PersistentQueue({ file: join(dir, `queue-race-${round}.db`), name: 'race' });
      expect(queue.stats()).toEqual({ pending: 0, active: 0, done: children * jobs, failed: 0, dead: 0 });
      await queue.close();
    }
  }, 60_000);
});
