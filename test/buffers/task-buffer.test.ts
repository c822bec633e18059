import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BufferError,
  PersistentQueue,
  TaskBuffer,
  UnrecoverableError,
  type TaskBufferOptions,
  type TaskHandlers,
  type TaskJobInfo,
} from '../../src/buffers/index.js';
import { Lifecycle } from '../../src/lifecycle/index.js';
import { TestLifecycle, tempDir, waitFor } from './helpers.js';
import { expectThrown } from '../helpers.js';

const FAST = { type: 'fixed', delayMs: 20, jitter: false } as const;

describe('TaskBuffer', () => {
  let dir: string;
  let n = 0;
  const buffers: TaskBuffer<TaskHandlers>[] = [];
  function buffer<H extends TaskHandlers>(opts: TaskBufferOptions<H>): TaskBuffer<H> {
    const b = new TaskBuffer<H>({ dataDir: dir, queue: `tasks-${n++}`, backoff: FAST, ...opts });
    buffers.push(b as unknown as TaskBuffer<TaskHandlers>);
    return b;
  }

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    for (const b of buffers.splice(0)) await b.stop({ timeoutMs: 0 });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs handlers with their data, emits completed with the result, then drained', async () => {
    const seen: number[] = [];
    const tasks = buffer({ handlers: { DOUBLE: async (d: { x: number }) => d.x * 2 } });
    const results: [TaskJobInfo, unknown][] = [];
    tasks.on('completed', (job, result) => results.push([job, result]));
    const drained = new Promise<void>((r) => tasks.once('drained', r));
    tasks.start();
    for (const x of [1, 2, 3]) seen.push(tasks.push('DOUBLE', { x }));
    await drained;
    expect(results.map(([, r]) => r).sort()).toEqual([2, 4, 6]);
    expect(results.map(([j]) => j.id).sort()).toEqual(seen.sort());
    expect(results[0]![0]).toMatchObject({ type: 'DOUBLE', attempts: 1, maxAttempts: 5 });
    expect(tasks.stats()).toEqual({ pending: 0, active: 0, done: 3, failed: 0, dead: 0 });
  });

  it('takes jobs in priority order (one worker)', async () => {
    const order: string[] = [];
    const tasks = buffer({ workers: 1, handlers: { T: (d: string) => void order.push(d) } });
    tasks.push('T', 'low', { priority: 0 });
    tasks.push('T', 'top', { priority: 9 });
    tasks.push('T', 'mid', { priority: 5 });
    tasks.push('T', 'low2');
    tasks.start();
    await waitFor(() => order.length === 4);
    expect(order).toEqual(['top', 'mid', 'low', 'low2']);
  });

  it('with priorities: false refuses a non-zero priority and stores nothing (as on BullMQ)', () => {
    const tasks = buffer({ priorities: false, handlers: { T: () => undefined } });
    tasks.push('T', 'a', { priority: 0 });
    expect(() => tasks.push('T', 'b', { priority: 3 })).toThrow(/priorities: false/);
    expect(tasks.stats().pending).toBe(1);
    expect(() => buffer({ priorities: 'yes' as unknown as boolean })).toThrow(/priorities/);
  });

  it('wakes idle workers on push without waiting for the poll interval', async () => {
    const ran: number[] = [];
    const tasks = buffer({ pollIntervalMs: 60_000, handlers: { T: (d: number) => void ran.push(d) } });
    tasks.start();
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    tasks.push('T', 1);
    await waitFor(() => ran.length === 1, 5000);
    expect(Date.now() - t0).toBeLessThan(5000);
    // A second buffer on the same queue in this process is woken too (shared store).
    const other = buffer({
      queue: tasks.queue,
      pollIntervalMs: 60_000,
      handlers: { T: (d: number) => void ran.push(d) },
    });
    other.push('T', 2);
    await waitFor(() => ran.length === 2, 5000);
  });

  it('runs a delayed job only after its delay', async () => {
    const ran: [string, number][] = [];
    const tasks = buffer({ pollIntervalMs: 60_000, handlers: { T: (d: string) => void ran.push([d, Date.now()]) } });
    tasks.start();
    const t0 = Date.now();
    tasks.push('T', 'later', { delayMs: 400 });
    tasks.push('T', 'now');
    await waitFor(() => ran.length === 2, 5000);
    expect(ran.map(([d]) => d)).toEqual(['now', 'later']);
    expect(ran[1]![1] - t0).toBeGreaterThanOrEqual(400);
  });

  it('dedupes pushes with the same dedupeKey while the first is live', async () => {
    let runs = 0;
    const tasks = buffer({ handlers: { T: () => void runs++ } });
    const a = tasks.push('T', 1, { dedupeKey: 'digest:42' });
    expect(tasks.push('T', 2, { dedupeKey: 'digest:42' })).toBe(a);
    tasks.start();
    await waitFor(() => tasks.stats().done === 1);
    expect(runs).toBe(1);
    expect(tasks.push('T', 3, { dedupeKey: 'digest:42' })).not.toBe(a);
  });

  it('retries with backoff up to maxAttempts, calls onError each time, then dead-letters with the error', async () => {
    const hook: [string, unknown, string, string | undefined][] = [];
    const attempts: number[] = [];
    const failed: boolean[] = [];
    const tasks = buffer({
      maxAttempts: 3,
      handlers: {
        FLAKY: (_d: { to: string }, job) => {
          attempts.push(job.attempts);
          throw new Error(`smtp down #${job.attempts}`);
        },
      },
      onError: (type, data, error, stack) => hook.push([type, data, error.message, stack]),
    });
    tasks.on('failed', (_j, _e, willRetry) => failed.push(willRetry));
    const dead = new Promise<[TaskJobInfo, Error]>((r) => tasks.once('dead', (j, e) => r([j, e])));
    const id = tasks.start().push('FLAKY', { to: 'a@b.c' });
    const [job, err] = await dead;
    expect(job.id).toBe(id);
    expect(err.message).toBe('smtp down #3');
    expect(attempts).toEqual([1, 2, 3]);
    expect(failed).toEqual([true, true, false]);
    expect(hook.map((h) => h.slice(0, 3))).toEqual([1, 2, 3].map((i) => ['FLAKY', { to: 'a@b.c' }, `smtp down #${i}`]));
    expect(hook[0]![3]).toMatch(/smtp down #1\n\s+at /);
    expect(tasks.stats()).toEqual({ pending: 0, active: 0, done: 0, failed: 0, dead: 1 });
    const letters = tasks.deadLetters();
    expect(letters).toEqual([
      expect.objectContaining({ id, type: 'FLAKY', data: { to: 'a@b.c' }, attempts: 3, error: 'Error: smtp down #3' }),
    ]);
  });

  it('retryDead gives a dead job a fresh run', async () => {
    let fail = true;
    const tasks = buffer({
      maxAttempts: 1,
      handlers: {
        T: () => {
          if (fail) throw new Error('nope');
          return 'ok';
        },
      },
    });
    const id = tasks.start().push('T', null);
    await waitFor(() => tasks.stats().dead === 1);
    fail = false;
    expect(tasks.retryDead(id)).toBe(true);
    expect(tasks.retryDead(id)).toBe(false);
    await waitFor(() => tasks.stats().done === 1);
    expect(tasks.deadLetters()).toEqual([]);
  });

  it('UnrecoverableError skips the remaining attempts', async () => {
    let calls = 0;
    const tasks = buffer({
      maxAttempts: 10,
      handlers: {
        T: () => {
          calls++;
          throw new UnrecoverableError('no such user');
        },
      },
    });
    const dead = new Promise<Error>((r) => tasks.once('dead', (_j, e) => r(e)));
    tasks.start().push('T', { user: 7 });
    expect((await dead).message).toBe('no such user');
    expect(calls).toBe(1);
    expect(tasks.deadLetters()[0]).toMatchObject({ attempts: 1, error: 'UnrecoverableError: no such user' });
  });

  it('fails an attempt that exceeds timeoutMs, aborts its signal and retries it', async () => {
    const aborted: boolean[] = [];
    const tasks = buffer({
      timeoutMs: 100,
      maxAttempts: 2,
      handlers: {
        SLOW: (_d: null, job) =>
          new Promise((resolve) => {
            if (job.attempts === 2) return resolve('fast now');
            job.signal.addEventListener('abort', () => aborted.push(true));
            setTimeout(resolve, 2000).unref();
          }),
      },
    });
    const errors: string[] = [];
    tasks.on('failed', (_j, e) => errors.push((e as BufferError).code));
    const done = new Promise<unknown>((r) => tasks.once('completed', (_j, res) => r(res)));
    tasks.start().push('SLOW', null);
    expect(await done).toBe('fast now');
    expect(errors).toEqual(['ERR_BUFFER_TIMEOUT']);
    expect(aborted).toEqual([true]);
  });

  it('renews the lease of a long job (also while stop() waits), so no other worker takes it', async () => {
    const runs: string[] = [];
    const slowHandler = async (d: string): Promise<void> => {
      runs.push(d);
      await new Promise((r) => setTimeout(r, 900));
    };
    const a = buffer({ leaseMs: 300, timeoutMs: 0, handlers: { T: slowHandler } });
    const b = buffer({ queue: a.queue, leaseMs: 300, pollIntervalMs: 20, handlers: { T: slowHandler } });
    const id = a.start().push('T', 'long');
    await waitFor(() => runs.length === 1);
    b.start();
    await new Promise((r) => setTimeout(r, 300));
    await a.stop({ timeoutMs: 5000 });
    expect(runs).toEqual(['long']);
    const probe = new PersistentQueue({ dataDir: dir, name: a.queue });
    expect(probe.get(id)).toMatchObject({ state: 'done', attempts: 1 });
    await probe.close();
  });

  it('stop() lets short in-flight jobs finish', async () => {
    const finished: number[] = [];
    const started: number[] = [];
    const tasks = buffer({
      workers: 3,
      handlers: {
        T: async (d: number) => {
          started.push(d);
          await new Promise((r) => setTimeout(r, 150));
          finished.push(d);
        },
      },
    });
    const probe = new PersistentQueue({ dataDir: dir, name: tasks.queue });
    tasks.start();
    [1, 2, 3].forEach((d) => tasks.push('T', d));
    await waitFor(() => started.length === 3);
    await tasks.stop({ timeoutMs: 5000 });
    expect(finished.sort()).toEqual([1, 2, 3]);
    expect(probe.stats()).toEqual({ pending: 0, active: 0, done: 3, failed: 0, dead: 0 });
    await probe.close();
  });

  it('stop() releases the lease of a job that outlives its timeout, so another worker runs it', async () => {
    let firstSignal: AbortSignal | undefined;
    const slow = buffer({
      handlers: {
        T: (_d: string, job) => {
          firstSignal = job.signal;
          return new Promise((r) => setTimeout(r, 3000).unref());
        },
      },
    });
    const id = slow.start().push('T', 'x');
    await waitFor(() => firstSignal !== undefined);
    await slow.stop({ timeoutMs: 100 });
    await slow.stop({ timeoutMs: 100 }); // idempotent
    expect(firstSignal!.aborted).toBe(true);
    expect(() => slow.push('T', 'y')).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_CLOSED' }));
    const probe = new PersistentQueue({ dataDir: dir, name: slow.queue });
    expect(probe.get(id)).toMatchObject({ state: 'pending', attempts: 0 });
    const done: number[] = [];
    const next = buffer({ queue: slow.queue, handlers: { T: () => 'ran again' } });
    next.on('completed', (j) => done.push(j.id));
    next.start();
    await waitFor(() => done.length === 1);
    expect(done).toEqual([id]);
    await probe.close();
  });

  it('takes no new jobs while the lifecycle is not ACTIVE and resumes when it is', async () => {
    const lifecycle = new TestLifecycle();
    lifecycle.status = 'MAINTENANCE';
    const ran: string[] = [];
    const tasks = buffer({ lifecycle, pollIntervalMs: 20, handlers: { T: (d: string) => void ran.push(d) } });
    tasks.start();
    tasks.push('T', 'a');
    await new Promise((r) => setTimeout(r, 200));
    expect(ran).toEqual([]);
    expect(tasks.isPaused).toBe(true);
    expect(tasks.stats().pending).toBe(1);
    lifecycle.set('ACTIVE');
    await waitFor(() => ran.length === 1);
    lifecycle.set('PAUSED');
    tasks.push('T', 'b');
    await new Promise((r) => setTimeout(r, 200));
    expect(ran).toEqual(['a']);
    lifecycle.set('ACTIVE');
    await waitFor(() => ran.length === 2);
    await tasks.stop();
    expect(lifecycle.listenerCount).toBe(0);
  });

  it('pauses with the real gatehouse Lifecycle (MAINTENANCE) and resumes on ACTIVE', async () => {
    const lifecycle = new Lifecycle();
    const ran: string[] = [];
    const tasks = buffer({ lifecycle, pollIntervalMs: 20, handlers: { T: (d: string) => void ran.push(d) } });
    tasks.start();
    await lifecycle.set('MAINTENANCE');
    tasks.push('T', 'held');
    await new Promise((r) => setTimeout(r, 200));
    expect(ran).toEqual([]);
    await lifecycle.set('ACTIVE');
    await waitFor(() => ran.length === 1);
    await tasks.stop();
    await lifecycle.close();
  });

  it('keeps running while not ACTIVE when pauseWhenNotActive is false', async () => {
    const lifecycle = new TestLifecycle();
    lifecycle.status = 'PAUSED';
    const ran: string[] = [];
    const tasks = buffer({ lifecycle, pauseWhenNotActive: false, handlers: { T: (d: string) => void ran.push(d) } });
    tasks.start().push('T', 'a');
    await waitFor(() => ran.length === 1);
  });

  it('rejects unknown task types and bad data with clear errors and stores nothing', () => {
    const tasks = buffer({ handlers: { SEND_EMAIL: (d: { to: string }) => d.to } });
    tasks.push('SEND_EMAIL', { to: 'keep@x' });
    const attempts: [() => unknown, string, RegExp][] = [
      [
        () => tasks.push('NOPE' as never, { to: 'x' } as never),
        'ERR_BUFFER_UNKNOWN_TASK',
        /unknown task type "NOPE".*known: SEND_EMAIL/,
      ],
      [
        () => tasks.push('SEND_EMAIL', { to: 'x', f: () => 1 } as never),
        'ERR_BUFFER_INVALID_PAYLOAD',
        /key "f" is a function/,
      ],
      [() => tasks.push('SEND_EMAIL', undefined as never), 'ERR_BUFFER_INVALID_PAYLOAD', /got undefined/],
      [() => tasks.push('SEND_EMAIL', { to: 'x' }, { priority: -3 }), 'ERR_BUFFER_INVALID_INPUT', /priority/],
      [() => tasks.push('SEND_EMAIL', { to: 'x' }, { delayMs: -1 }), 'ERR_BUFFER_INVALID_INPUT', /delayMs/],
    ];
    for (const [fn, code, msg] of attempts) {
      const err = expectThrown(fn, BufferError);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(msg);
    }
    expect(tasks.stats()).toEqual({ pending: 1, active: 0, done: 0, failed: 0, dead: 0 });
  });

  it('pushMany stores all jobs in one go, or none when one is bad', async () => {
    const ran: number[] = [];
    const tasks = buffer({ workers: 1, handlers: { T: (d: number) => void ran.push(d) } });
    const ids = tasks.pushMany([1, 2, 3].map((d) => ({ type: 'T' as const, data: d })));
    expect(ids).toHaveLength(3);
    expect(() =>
      tasks.pushMany([
        { type: 'T', data: 4 },
        { type: 'T', data: 5, options: { priority: -1 } },
      ]),
    ).toThrow(/priority/);
    expect(() =>
      tasks.pushMany([
        { type: 'T', data: 4 },
        { type: 'X' as never, data: 5 as never },
      ]),
    ).toThrow(/unknown task type/);
    expect(tasks.stats().pending).toBe(3);
    tasks.start();
    await waitFor(() => ran.length === 3);
    expect(ran).toEqual([1, 2, 3]);
  });

  it('a throwing event listener does not break the worker loop', async () => {
    const ran: number[] = [];
    const tasks = buffer({ handlers: { T: (d: number) => void ran.push(d) } });
    tasks.on('completed', () => {
      throw new Error('listener bug');
    });
    tasks.start();
    tasks.push('T', 1);
    await waitFor(() => tasks.stats().done === 1);
    tasks.push('T', 2);
    await waitFor(() => tasks.stats().done === 2);
    expect(ran).toEqual([1, 2]);
    expect(tasks.running).toBe(0);
  });

  it('rejects bad options naming the option', () => {
    expect(() => new TaskBuffer({ dataDir: dir, workers: 0 })).toThrow(/option "workers"/);
    expect(() => new TaskBuffer({ dataDir: dir, handlers: { X: 'nope' as never } })).toThrow(/option "handlers.X"/);
    expect(() => new TaskBuffer({ dataDir: dir, backoff: { type: 'cubic' as never } })).toThrow(/backoff.type/);
  });

  it('cleanup removes old finished jobs only', async () => {
    const tasks = buffer({ handlers: { T: () => 1 } });
    tasks.start();
    tasks.push('T', 1);
    tasks.push('T', 2);
    await waitFor(() => tasks.stats().done === 2);
    tasks.push('T', 3, { delayMs: 60_000 });
    expect(tasks.cleanup({ maxAgeDays: 7 })).toBe(0);
    expect(tasks.cleanup({ maxAgeDays: 0 })).toBe(2);
    expect(tasks.stats()).toEqual({ pending: 1, active: 0, done: 0, failed: 0, dead: 0 });
  });
});
