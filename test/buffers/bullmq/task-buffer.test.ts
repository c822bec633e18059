import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { z } from 'zod';
import {
  TaskBuffer,
  UnrecoverableError,
  BufferError,
  type TaskHandlers,
  type TaskBufferOptions,
  type TaskJobInfo,
} from '../../../src/buffers/index.js';
import type { RedisOption } from '../../../src/buffers/index.js';
import { TestLifecycle } from '../helpers.js';
import {
  keyCount,
  obliterate,
  queueName,
  redisAvailable,
  redisOption,
  REDIS_URL,
  REQUIRE,
  until,
  warnSkipped,
} from './helpers.js';

const available = await redisAvailable();
warnSkipped(available, 'the TaskBuffer-on-BullMQ tests');

const FAST = { type: 'fixed', delayMs: 20, jitter: false } as const;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available && !REQUIRE)('TaskBuffer on BullMQ', () => {
  const buffers: { stop(o?: { timeoutMs?: number }): Promise<void> }[] = [];
  const queues: string[] = [];
  const clients: Redis[] = [];

  afterEach(async () => {
    for (const b of buffers.splice(0)) await b.stop({ timeoutMs: 2000 });
    for (const q of queues.splice(0)) await obliterate(q);
    for (const c of clients.splice(0)) c.disconnect();
  });

  function buffer<H extends TaskHandlers>(
    opts: Omit<TaskBufferOptions<H, RedisOption>, 'redis'> & { redis?: RedisOption },
    queue = queueName('tb'),
  ): TaskBuffer<H, RedisOption> {
    if (!queues.includes(queue)) queues.push(queue);
    const b = new TaskBuffer<H, RedisOption>({ redis: redisOption, queue, backoff: FAST, leaseMs: 2000, ...opts });
    buffers.push(b);
    return b;
  }

  it('requires Redis when GATEHOUSE_REQUIRE_REDIS=1', () => {
    expect(available).toBe(true);
  });

  it('runs pushed jobs; push resolves once Redis holds the job and returns its id', async () => {
    const seen: { data: unknown; id: number; attempts: number }[] = [];
    const tasks = buffer({
      handlers: { ECHO: (data: { n: number }, job) => void seen.push({ data, id: job.id, attempts: job.attempts }) },
    });
    expect(tasks.engineKind).toBe('bullmq');
    const id = await tasks.push('ECHO', { n: 1 });
    expect(typeof id).toBe('number');
    expect(await tasks.stats()).toEqual({ pending: 1, active: 0, done: 0, failed: 0, dead: 0 });
    const completed: [TaskJobInfo, unknown][] = [];
    tasks.on('completed', (job, result) => completed.push([job, result]));
    tasks.start();
    await until(() => completed.length === 1, 10_000, 'completion');
    expect(seen).toEqual([{ data: { n: 1 }, id, attempts: 1 }]);
    expect(completed[0]![0]).toMatchObject({ id, type: 'ECHO', data: { n: 1 }, attempts: 1, maxAttempts: 5 });
    expect(await tasks.stats()).toEqual({ pending: 0, active: 0, done: 1, failed: 0, dead: 0 });
  });

  it('runs higher priorities first (gatehouse: higher number first)', async () => {
    const order: number[] = [];
    const tasks = buffer({ workers: 1, handlers: { P: (d: { p: number }) => void order.push(d.p) } });
    for (const p of [0, 5, 1, 100, 5]) await tasks.push('P', { p }, { priority: p });
    tasks.start();
    await until(() => order.length === 5, 10_000, 'five jobs');
    expect(order).toEqual([100, 5, 5, 1, 0]);
  });

  it('with priorities: false keeps jobs on the plain wait list in push order and refuses a priority', async () => {
    const order: number[] = [];
    const tasks = buffer({
      workers: 1,
      priorities: false,
      handlers: { P: (d: { n: number }) => void order.push(d.n) },
    });
    const queue = queues.at(-1)!;
    for (const n of [1, 2, 3]) await tasks.push('P', { n }, n === 2 ? { priority: 0 } : {});
    const before = await keyCount(queue);
    const refused = await tasks.push('P', { n: 4 }, { priority: 5 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(BufferError);
    expect((refused as BufferError).code).toBe('ERR_BUFFER_INVALID_INPUT');
    expect((refused as BufferError).message).toContain('priorities: false');
    expect(await keyCount(queue)).toBe(before);
    const redis = new Redis(REDIS_URL);
    clients.push(redis);
    const counts = await redis
      .pipeline()
      .llen(`${redisOption.keyPrefix}:${queue}:wait`)
      .zcard(`${redisOption.keyPrefix}:${queue}:prioritized`)
      .exec();
    expect(counts?.map(([, v]) => v)).toEqual([3, 0]);
    tasks.start();
    await until(() => order.length === 3, 10_000, 'three jobs');
    expect(order).toEqual([1, 2, 3]);
  });

  it('holds a delayed job back until its delay passed', async () => {
    const ranAt: number[] = [];
    const tasks = buffer({ handlers: { D: () => void ranAt.push(Date.now()) } });
    tasks.start();
    const pushedAt = Date.now();
    await tasks.push('D', {}, { delayMs: 600 });
    await sleep(300);
    expect(ranAt).toEqual([]);
    expect((await tasks.stats()).pending).toBe(1);
    await until(() => ranAt.length === 1, 10_000, 'delayed job');
    expect(ranAt[0]! - pushedAt).toBeGreaterThanOrEqual(590);
  });

  it('dedupes a live job by dedupeKey: the same id comes back and the job runs once', async () => {
    let runs = 0;
    const tasks = buffer({ handlers: { ONCE: () => void runs++ } });
    const a = await tasks.push('ONCE', { v: 1 }, { dedupeKey: 'k1' });
    const b = await tasks.push('ONCE', { v: 2 }, { dedupeKey: 'k1' });
    const c = await tasks.push('ONCE', { v: 3 }, { dedupeKey: 'k2' });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect((await tasks.stats()).pending).toBe(2);
    tasks.start();
    await until(async () => (await tasks.stats()).done === 2, 10_000, 'two done');
    expect(runs).toBe(2);
  });

  it('retries with the backoff, then keeps a dead letter after maxAttempts; retryDead runs it again with a fresh budget', async () => {
    let fail = true;
    const attempts: number[] = [];
    const errors: [string, unknown, string][] = [];
    const failed: boolean[] = [];
    const dead: TaskJobInfo[] = [];
    const tasks = buffer({
      maxAttempts: 3,
      onError: (type, data, error) => errors.push([type, data, error.message]),
      handlers: {
        FLAKY: (_d: { x: number }, job) => {
          attempts.push(job.attempts);
          if (fail) throw new Error('boom');
          return 'ok';
        },
      },
    });
    tasks.on('failed', (_j, _e, willRetry) => failed.push(willRetry));
    tasks.on('dead', (j) => dead.push(j));
    const id = await tasks.push('FLAKY', { x: 7 });
    tasks.start();
    await until(() => dead.length === 1, 10_000, 'dead letter');
    expect(attempts).toEqual([1, 2, 3]);
    expect(failed).toEqual([true, true, false]);
    expect(errors).toEqual([
      ['FLAKY', { x: 7 }, 'boom'],
      ['FLAKY', { x: 7 }, 'boom'],
      ['FLAKY', { x: 7 }, 'boom'],
    ]);
    expect(dead[0]).toMatchObject({ id, attempts: 3, maxAttempts: 3 });
    expect(await tasks.stats()).toEqual({ pending: 0, active: 0, done: 0, failed: 0, dead: 1 });
    const letters = await tasks.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ id, type: 'FLAKY', data: { x: 7 }, attempts: 3 });
    expect(letters[0]!.error).toContain('boom');
    expect(typeof letters[0]!.failedAt).toBe('number');

    expect(await tasks.retryDead(id + 1000)).toBe(false);
    fail = false;
    expect(await tasks.retryDead(id)).toBe(true);
    await until(async () => (await tasks.stats()).done === 1, 10_000, 'retried job done');
    expect(attempts).toEqual([1, 2, 3, 1]);
    expect(await tasks.deadLetters()).toEqual([]);
    expect(await tasks.retryDead(id)).toBe(false); // done now, not dead
  });

  it('sends an UnrecoverableError straight to dead letters', async () => {
    let runs = 0;
    const tasks = buffer({
      maxAttempts: 5,
      handlers: {
        NOPE: () => {
          runs++;
          throw new UnrecoverableError('never works');
        },
      },
    });
    const dead: Error[] = [];
    tasks.on('dead', (_j, e) => dead.push(e));
    await tasks.push('NOPE', {});
    tasks.start();
    await until(() => dead.length === 1, 10_000, 'dead');
    await sleep(200);
    expect(runs).toBe(1);
    expect(dead[0]).toBeInstanceOf(UnrecoverableError);
    expect((await tasks.stats()).dead).toBe(1);
  });

  it('fails an attempt that runs past timeoutMs and aborts its signal', async () => {
    let aborted = 0;
    const tasks = buffer({
      timeoutMs: 200,
      maxAttempts: 2,
      handlers: {
        SLOW: (_d, job) =>
          new Promise((resolve) => {
            job.signal.addEventListener('abort', () => {
              aborted++;
              resolve(undefined);
            });
          }),
      },
    });
    const errors: string[] = [];
    tasks.on('failed', (_j, e) => errors.push((e as BufferError).code));
    await tasks.push('SLOW', {});
    tasks.start();
    await until(async () => (await tasks.stats()).dead === 1, 10_000, 'dead after two timeouts');
    expect(errors).toEqual(['ERR_BUFFER_TIMEOUT', 'ERR_BUFFER_TIMEOUT']);
    expect(aborted).toBe(2);
  });

  it('takes no new jobs while the lifecycle is not ACTIVE and resumes when it is', async () => {
    const lifecycle = new TestLifecycle();
    lifecycle.set('PAUSED');
    let runs = 0;
    const tasks = buffer({ lifecycle, handlers: { L: () => void runs++ } });
    tasks.start();
    expect(tasks.isPaused).toBe(true);
    await tasks.push('L', {});
    await sleep(500);
    expect(runs).toBe(0);
    expect((await tasks.stats()).pending).toBe(1);
    lifecycle.set('ACTIVE');
    expect(tasks.isPaused).toBe(false);
    await until(() => runs === 1, 10_000, 'run after resume');
    lifecycle.set('MAINTENANCE');
    await sleep(200);
    await tasks.push('L', {});
    await sleep(500);
    expect(runs).toBe(1);
  });

  it('stop() lets a short in-flight job finish', async () => {
    let finished = 0;
    const tasks = buffer({ handlers: { SHORT: () => sleep(300).then(() => void finished++) } });
    await tasks.push('SHORT', {});
    tasks.start();
    await until(() => tasks.running === 1, 10_000, 'job running');
    await tasks.stop({ timeoutMs: 5000 });
    expect(finished).toBe(1);
    const probe = buffer({ handlers: { SHORT: () => undefined } }, queues.at(-1));
    expect(await probe.stats()).toEqual({ pending: 0, active: 0, done: 1, failed: 0, dead: 0 });
  });

  it('stop({ timeoutMs }) gives a long in-flight job back without counting the attempt; another buffer runs it', async () => {
    let signalled = false;
    const tasks = buffer({
      handlers: {
        LONG: (_d, job) =>
          new Promise((resolve) => {
            job.signal.addEventListener('abort', () => {
              signalled = true;
              resolve(undefined);
            });
          }),
      },
    });
    const queue = queues.at(-1)!;
    const id = await tasks.push('LONG', {});
    tasks.start();
    await until(() => tasks.running === 1, 10_000, 'job running');
    const t0 = Date.now();
    await tasks.stop({ timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(signalled).toBe(true);
    await expect(tasks.push('LONG', {})).rejects.toMatchObject({ code: 'ERR_BUFFER_CLOSED' });
    const seen: number[] = [];
    const next = buffer({ handlers: { LONG: (_d, job) => void seen.push(job.id, job.attempts) } }, queue);
    expect((await next.stats()).pending).toBe(1);
    next.start();
    await until(() => seen.length === 2, 10_000, 'second buffer ran it');
    expect(seen).toEqual([id, 1]);
  });

  it('deletes old finished jobs with cleanup({ maxAgeDays })', async () => {
    const tasks = buffer({ maxAttempts: 1, handlers: { OK: () => 1, BAD: () => Promise.reject(new Error('x')) } });
    await tasks.push('OK', {});
    await tasks.push('BAD', {});
    tasks.start();
    await until(
      async () => {
        const s = await tasks.stats();
        return s.done === 1 && s.dead === 1;
      },
      10_000,
      'one done one dead',
    );
    expect(await tasks.cleanup({ maxAgeDays: 1 })).toBe(0);
    expect(await tasks.cleanup({ maxAgeDays: 0, includeDead: false })).toBe(1);
    expect(await tasks.stats()).toMatchObject({ done: 0, dead: 1 });
    expect(await tasks.cleanup({ maxAgeDays: 0 })).toBe(1);
    expect(await tasks.stats()).toEqual({ pending: 0, active: 0, done: 0, failed: 0, dead: 0 });
  });

  it('leaves a client the user passed open after stop()', async () => {
    const client = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    clients.push(client);
    const tasks = buffer({ redis: client, handlers: { A: () => undefined } });
    await tasks.push('A', {});
    tasks.start();
    await until(async () => (await tasks.stats()).done === 1, 10_000, 'done');
    await tasks.stop();
    expect(await client.ping()).toBe('PONG');
    await tasks.stop(); // idempotent
    expect(await client.ping()).toBe('PONG');
  });

  describe('hostile input is refused and nothing is stored', () => {
    it('refuses a payload over maxPayloadBytes', async () => {
      const tasks = buffer({ maxPayloadBytes: 1024, handlers: { BIG: () => undefined } });
      const queue = queues.at(-1)!;
      await tasks.push('BIG', { s: 'x'.repeat(900) }); // fits
      const before = await keyCount(queue);
      const err = await tasks.push('BIG', { s: 'é'.repeat(600) }).catch((e: unknown) => e); // 1200 bytes in UTF-8
      expect(err).toBeInstanceOf(BufferError);
      expect(err).toMatchObject({ code: 'ERR_BUFFER_PAYLOAD_TOO_LARGE' });
      expect(await tasks.stats()).toEqual({ pending: 1, active: 0, done: 0, failed: 0, dead: 0 });
      expect(await keyCount(queue)).toBe(before);
    });

    it('refuses non-JSON data, unknown task types, schema violations and out-of-range priorities', async () => {
      const tasks = buffer({
        handlers: {
          T: () => undefined,
          TYPED: { description: 'typed', input: z.object({ n: z.number() }), handle: () => undefined },
        },
      });
      const queue = queues.at(-1)!;
      await tasks.stats();
      const before = await keyCount(queue);
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const cases: [Promise<unknown>, string][] = [
        [tasks.push('T', { f: () => 1 }), 'ERR_BUFFER_INVALID_PAYLOAD'],
        [tasks.push('T', { n: 10n }), 'ERR_BUFFER_INVALID_PAYLOAD'],
        [tasks.push('T', cyclic), 'ERR_BUFFER_INVALID_PAYLOAD'],
        [tasks.push('T', { n: Number.NaN }), 'ERR_BUFFER_INVALID_PAYLOAD'],
        [tasks.push('T', undefined), 'ERR_BUFFER_INVALID_PAYLOAD'],
        [tasks.push('NOPE' as 'T', {}), 'ERR_BUFFER_UNKNOWN_TASK'],
        [tasks.push('TYPED', { n: 'x' } as unknown as { n: number }), 'ERR_BUFFER_INVALID_PAYLOAD'],
        [tasks.push('T', {}, { priority: 2 ** 21 }), 'ERR_BUFFER_INVALID_INPUT'],
        [tasks.push('T', {}, { priority: -1 }), 'ERR_BUFFER_INVALID_INPUT'],
        [tasks.push('T', {}, { delayMs: -5 }), 'ERR_BUFFER_INVALID_INPUT'],
        [tasks.push('T', {}, { dedupeKey: '' }), 'ERR_BUFFER_INVALID_INPUT'],
        [
          tasks.pushMany([
            { type: 'T', data: {} },
            { type: 'T', data: { bad: Symbol('s') } },
          ]),
          'ERR_BUFFER_INVALID_PAYLOAD',
        ],
      ];
      for (const [p, code] of cases) await expect(p).rejects.toMatchObject({ code });
      expect(await tasks.stats()).toEqual({ pending: 0, active: 0, done: 0, failed: 0, dead: 0 });
      expect(await keyCount(queue)).toBe(before);
    });

    it('refuses bad redis options in the constructor, connecting nothing', () => {
      expect(() => new TaskBuffer({ redis: 'http://nope', queue: 'q' })).toThrow(
        expect.objectContaining({ code: 'ERR_REDIS_OPTIONS' }),
      );
      expect(() => new TaskBuffer({ redis: { url: REDIS_URL, keyPrefix: 'a b' }, queue: 'q' })).toThrow(
        expect.objectContaining({ code: 'ERR_REDIS_OPTIONS' }),
      );
      expect(() => new TaskBuffer({ redis: REDIS_URL, queue: 'a:b' })).toThrow(/queue/);
      expect(() => new TaskBuffer({ redis: REDIS_URL, queue: 'q', maxPayloadBytes: 0 })).toThrow(/maxPayloadBytes/);
    });
  });

  it('emits drained once the queue is empty and nothing runs here', async () => {
    const doneAtDrained: number[] = [];
    const done: number[] = [];
    const tasks = buffer({ handlers: { W: (d: { i: number }) => sleep(20).then(() => void done.push(d.i)) } });
    tasks.on('drained', () => doneAtDrained.push(done.length));
    for (let i = 0; i < 3; i++) await tasks.push('W', { i });
    tasks.start();
    await until(() => doneAtDrained.length >= 1, 15_000, 'drained');
    await sleep(300);
    expect(doneAtDrained).toEqual([3]); // once, after every job finished
    expect(done.sort()).toEqual([0, 1, 2]);
  });

  it('pushMany stores all jobs and runs them', async () => {
    const seen: number[] = [];
    const tasks = buffer({ handlers: { M: (d: { i: number }) => void seen.push(d.i) } });
    const ids = await tasks.pushMany([0, 1, 2].map((i) => ({ type: 'M' as const, data: { i } })));
    expect(new Set(ids).size).toBe(3);
    tasks.start();
    await until(() => seen.length === 3, 10_000, 'three');
    expect(seen.sort()).toEqual([0, 1, 2]);
  });
});
