import { afterEach, describe, expect, it } from 'vitest';
import { openConnectionCount } from '../../src/database/connection.js';
import { Database } from '../../src/database/index.js';
import { createQueueEngine } from '../../src/buffers/engines/index.js';
import type { MaybePromise } from '../../src/buffers/index.js';
import type { QueueEngine } from '../../src/buffers/internal.js';
import { tempDir } from '../helpers.js';

/** Code written for any engine: `await` flattens MaybePromise results, sync or async. */
async function pushAndDrain(engine: QueueEngine, n: number): Promise<number[]> {
  for (let i = 0; i < n; i++)
    await engine.insert({
      type: 't',
      payload: JSON.stringify({ i }),
      priority: 0,
      runAt: 0,
      maxAttempts: 3,
      dedupeKey: null,
    });
  const done: number[] = [];
  for (let rows = await engine.claim(2, 10_000); rows.length > 0; rows = await engine.claim(2, 10_000)) {
    for (const r of rows) if (await engine.complete(r.id, r.lease_token)) done.push(r.id);
  }
  return done;
}

describe('queue engine', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });

  it('runs engine-neutral code with await, and the SQLite engine answers synchronously', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const engine = createQueueEngine({ queue: 'q', dataDir: dir, durability: 'normal', busyTimeoutMs: 5000 });
    const sync: QueueEngine<'sync'> = engine;
    expect(sync.kind).toBe('sqlite');
    expect(await pushAndDrain(engine, 5)).toEqual([1, 2, 3, 4, 5]);
    const stats: MaybePromise<unknown> = sync.stats();
    expect(stats).not.toBeInstanceOf(Promise);
    expect(stats).toEqual({ pending: 0, active: 0, done: 5, failed: 0, dead: 0 });
    engine.close();
    engine.close();
  });

  it('shares one connection per file between engines and a Database, closed with the last user', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const before = openConnectionCount();
    const a = createQueueEngine({ queue: 'a', dataDir: dir, durability: 'normal', busyTimeoutMs: 5000 });
    const b = createQueueEngine({ queue: 'b', dataDir: dir, durability: 'full', busyTimeoutMs: 5000 });
    const db = new Database({ path: `${dir}/gatehouse-queues.db` });
    expect(openConnectionCount()).toBe(before + 1);
    a.insert({ type: null, payload: '1', priority: 0, runAt: 0, maxAttempts: 1, dedupeKey: null });
    expect(db.query('SELECT queue FROM jobs')).toEqual([{ queue: 'a' }]);
    // The stronger durability asked for by the second engine applies to the shared handle.
    expect(db.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
    a.close();
    b.close();
    expect(openConnectionCount()).toBe(before + 1);
    await db.close();
    expect(openConnectionCount()).toBe(before);
  });
});
