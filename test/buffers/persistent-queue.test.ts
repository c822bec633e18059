import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BufferError, PersistentQueue } from '../../src/buffers/index.js';
import { QUEUE_FILE } from '../../src/buffers/internal.js';
import { tempDir, waitFor } from './helpers.js';

describe('PersistentQueue', () => {
  let dir: string;
  const open: PersistentQueue<unknown>[] = [];
  function queue<T = unknown>(opts: ConstructorParameters<typeof PersistentQueue<T>>[0] = {}): PersistentQueue<T> {
    const q = new PersistentQueue<T>({ dataDir: dir, name: `q-${open.length}`, ...opts });
    open.push(q as PersistentQueue<unknown>);
    return q;
  }

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    for (const q of open.splice(0)) await q.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores jobs in dataDir/gatehouse-queues.db and leases by priority, then age', () => {
    const q = queue<string>();
    const low = q.push({ payload: 'low' });
    const high = q.push({ payload: 'high', priority: 10 });
    const mid1 = q.push({ payload: 'mid1', priority: 5 });
    const mid2 = q.push({ payload: 'mid2', priority: 5 });
    expect(fs.existsSync(path.join(dir, QUEUE_FILE))).toBe(true);
    expect(q.peek(10).map((j) => j.id)).toEqual([high, mid1, mid2, low]);
    const order: string[] = [];
    for (let j = q.pop(); j; j = q.pop()) {
      order.push(j.payload);
      expect(j.attempts).toBe(1);
      expect(q.complete(j.id)).toBe(true);
    }
    expect(order).toEqual(['high', 'mid1', 'mid2', 'low']);
    expect(q.stats()).toEqual({ pending: 0, active: 0, done: 4, failed: 0, dead: 0 });
  });

  it('does not hand out a delayed job before its time', async () => {
    const q = queue<string>();
    q.push({ payload: 'later', delayMs: 300 });
    q.push({ payload: 'now' });
    expect(q.pop()?.payload).toBe('now');
    expect(q.pop()).toBeNull();
    expect(q.stats().pending).toBe(1);
    await new Promise((r) => setTimeout(r, 350));
    expect(q.pop()?.payload).toBe('later');
  });

  it('deduplicates on dedupeKey among live jobs only', () => {
    const q = queue<number>();
    const a = q.push({ payload: 1, dedupeKey: 'k' });
    expect(q.push({ payload: 2, dedupeKey: 'k' })).toBe(a);
    expect(q.stats().pending).toBe(1);
    const job = q.pop();
    expect(job?.payload).toBe(1);
    expect(q.push({ payload: 3, dedupeKey: 'k' })).toBe(a); // still live while active
    q.complete(job!.id);
    const b = q.push({ payload: 4, dedupeKey: 'k' }); // the first one is final now
    expect(b).not.toBe(a);
    expect(q.stats()).toMatchObject({ pending: 1, done: 1 });
  });

  it('leases an expired job again and ignores the stale worker afterwards', async () => {
    const q = queue<string>();
    const other = new PersistentQueue<string>({ dataDir: dir, name: q.name });
    open.push(other as PersistentQueue<unknown>);
    q.push({ payload: 'x' });
    const first = q.pop({ leaseMs: 100 });
    expect(first).not.toBeNull();
    expect(other.pop()).toBeNull();
    await new Promise((r) => setTimeout(r, 150));
    const second = other.pop({ leaseMs: 10_000 });
    expect(second?.id).toBe(first!.id);
    expect(second?.attempts).toBe(2);
    // The first worker comes back late: neither complete nor fail may touch the job now.
    expect(q.complete(first!)).toBe(false);
    expect(q.fail(first!, { error: 'late' })).toBe('lost');
    expect(other.complete(second!.id)).toBe(true);
    expect(other.fail(second!, { error: 'again' })).toBe('lost');
    const row = q.get(first!.id);
    expect(row).toMatchObject({
      state: 'done',
      attempts: 2,
      lastError: 'lease expired: the worker holding this job stopped or was too slow',
    });
  });

  it('retries failed jobs until maxAttempts, then keeps them as dead letters', () => {
    const q = queue<string>({ maxAttempts: 3 });
    const id = q.push({ payload: 'p' });
    for (let i = 1; i <= 3; i++) {
      const j = q.pop();
      expect(j?.attempts).toBe(i);
      expect(q.fail(j!.id, { error: `boom ${i}` })).toBe(i < 3 ? 'failed' : 'dead');
    }
    expect(q.pop()).toBeNull();
    expect(q.stats()).toEqual({ pending: 0, active: 0, done: 0, failed: 0, dead: 1 });
    const dead = q.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ id, state: 'dead', lastError: 'boom 3', attempts: 3 });
    expect(q.retryDead(id)).toBe(true);
    expect(q.retryDead(id)).toBe(false);
    expect(q.pop()?.attempts).toBe(1);
  });

  it('fail with retry false sends the job to dead letters at once; a retry delay holds it back', async () => {
    const q = queue<string>();
    q.push({ payload: 'a' });
    q.push({ payload: 'b' });
    const a = q.pop()!;
    expect(q.fail(a, { error: 'no', retry: false })).toBe('dead');
    const b = q.pop()!;
    expect(q.fail(b, { error: 'later', delayMs: 200 })).toBe('failed');
    expect(q.pop()).toBeNull();
    await waitFor(() => q.peek(1)[0]!.runAt <= Date.now(), 2000);
    expect(q.pop()?.payload).toBe('b');
  });

  it('complete on a job this instance never leased is refused clearly', () => {
    const q = queue<string>();
    const id = q.push({ payload: 'x' });
    expect(() => q.complete(id)).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_NOT_LEASED' }));
    expect(q.stats().pending).toBe(1);
  });

  it('rejects payloads that cannot be JSON-serialised and keeps the stored queue intact', () => {
    const q = queue<unknown>();
    q.push({ payload: { keep: 1 } });
    q.push({ payload: { keep: 2 } });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: unknown[] = [
      undefined,
      () => 1,
      { f: () => 1 },
      10n,
      { n: 1n },
      cyclic,
      Number.NaN,
      { x: Infinity },
      Symbol('s'),
    ];
    for (const payload of bad) {
      let err: unknown;
      try {
        q.push({ payload });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BufferError);
      expect((err as BufferError).code).toBe('ERR_BUFFER_INVALID_PAYLOAD');
      expect((err as Error).message).toMatch(/payload must be JSON-serialisable/);
    }
    // pushMany is all-or-nothing: one bad item stores nothing.
    expect(() => q.pushMany([{ payload: { ok: 3 } }, { payload: { f: () => 1 } }])).toThrow(/key "f" is a function/);
    expect(q.stats()).toEqual({ pending: 2, active: 0, done: 0, failed: 0, dead: 0 });
    expect(q.peek(10).map((j) => j.payload)).toEqual([{ keep: 1 }, { keep: 2 }]);
  });

  it('rejects negative or fractional priority and delay and a bad dedupe key, storing nothing', () => {
    const q = queue<number>();
    q.push({ payload: 1 });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ priority: -1 }, /priority must be an integer >= 0/],
      [{ priority: 1.5 }, /priority/],
      [{ delayMs: -5 }, /delayMs must be a finite number/],
      [{ delayMs: Infinity }, /delayMs/],
      [{ dedupeKey: '' }, /dedupeKey/],
      [{ maxAttempts: 0 }, /maxAttempts/],
    ];
    for (const [opts, msg] of cases) {
      expect(() => q.push({ payload: 2, ...opts })).toThrow(msg);
    }
    expect(() => q.push(null as never)).toThrow(BufferError);
    expect(q.stats()).toEqual({ pending: 1, active: 0, done: 0, failed: 0, dead: 0 });
    expect(q.pop()?.payload).toBe(1);
  });

  it('rejects bad options naming the option', () => {
    expect(() => new PersistentQueue({ dataDir: dir, name: '' })).toThrow(/option "name"/);
    expect(() => new PersistentQueue({ dataDir: dir, durability: 'sometimes' as never })).toThrow(
      /option "durability"/,
    );
    expect(() => new PersistentQueue({ dataDir: dir, leaseMs: 0 })).toThrow(/option "leaseMs"/);
  });

  it('pushMany stores all in order; queues sharing a file stay separate; purge and cleanup delete', () => {
    const a = queue<number>();
    const b = queue<number>();
    const ids = a.pushMany([1, 2, 3].map((payload) => ({ payload })));
    expect(ids).toHaveLength(3);
    expect(ids[0]! < ids[1]! && ids[1]! < ids[2]!).toBe(true);
    b.push({ payload: 9 });
    expect(a.stats().pending).toBe(3);
    expect(b.pop()?.payload).toBe(9);
    const j = a.pop()!;
    a.complete(j);
    expect(a.cleanup({ maxAgeDays: 1 })).toBe(0); // too recent
    expect(a.cleanup({ maxAgeDays: 0 })).toBe(1);
    expect(a.purge('pending')).toBe(2);
    expect(a.stats()).toEqual({ pending: 0, active: 0, done: 0, failed: 0, dead: 0 });
    expect(b.stats().active).toBe(1);
  });

  it('a large pushMany (multi-row inserts, a dedupe key mid-batch) returns each job its own id, in order', () => {
    const a = queue<number>();
    const b = queue<number>();
    b.push({ payload: -1 });
    const live = a.push({ payload: -2, dedupeKey: 'k' });
    const inputs = Array.from({ length: 257 }, (_, i) =>
      i === 120 ? { payload: i, dedupeKey: 'k' } : i === 200 ? { payload: i, dedupeKey: 'new' } : { payload: i },
    );
    const ids = a.pushMany(inputs);
    expect(ids).toHaveLength(257);
    expect(ids[120]).toBe(live); // deduplicated onto the live job
    const fresh = ids.filter((_, i) => i !== 120);
    expect(new Set(fresh).size).toBe(256);
    for (let i = 1; i < fresh.length; i++) expect(fresh[i]! > fresh[i - 1]!).toBe(true);
    // Every id maps to the payload pushed at that position.
    const byId = new Map(a.peek(1000).map((j) => [j.id, j.payload]));
    inputs.forEach((input, i) => expect(byId.get(ids[i]!), `item ${i}`).toBe(i === 120 ? -2 : input.payload));
    expect(a.stats().pending).toBe(257);
    expect(b.stats().pending).toBe(1);
  });

  it('close is idempotent and later calls fail clearly', async () => {
    const q = queue<number>();
    q.push({ payload: 1 });
    await q.close();
    await q.close();
    expect(() => q.push({ payload: 2 })).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_CLOSED' }));
    const again = queue<number>({ name: q.name });
    expect(again.stats().pending).toBe(1);
  });

  it('survives reopening: a pushed job is still there in a new connection', async () => {
    const q = queue<string>({ durability: 'full' });
    const id = q.push({ payload: 'durable' });
    await q.close();
    const reopened = queue<string>({ name: q.name });
    expect(reopened.get(id)?.payload).toBe('durable');
  });
});
