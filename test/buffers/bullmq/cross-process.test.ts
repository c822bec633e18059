import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskBuffer } from '../../../src/buffers/index.js';
import {
  obliterate,
  PREFIX,
  queueName,
  redisAvailable,
  redisOption,
  REDIS_URL,
  REQUIRE,
  until,
  warnSkipped,
} from './helpers.js';
import { spawnWorker, type WorkerChild } from '../helpers.js';

const available = await redisAvailable();
warnSkipped(available, 'the BullMQ cross-process and SIGKILL tests');

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'worker.ts');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Child = WorkerChild;

function startWorker(
  queue: string,
  opts: {
    workers: number;
    leaseMs: number;
    handlerMs: number;
    maxAttempts: number;
    hang?: boolean;
    stopAfter?: number;
  },
): Child {
  const args = { url: REDIS_URL, prefix: PREFIX, queue, ...opts };
  return spawnWorker(WORKER, args);
}

describe.skipIf(!available && !REQUIRE)('TaskBuffer on BullMQ across processes (real child processes, SIGKILL)', () => {
  const children: Child[] = [];
  const queues: string[] = [];
  const buffers: TaskBuffer<{ EFFECT: () => undefined }, typeof redisOption>[] = [];
  const clients: Redis[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await c.exited;
    }
    for (const b of buffers.splice(0)) await b.stop();
    for (const q of queues.splice(0)) await obliterate(q);
    for (const c of clients.splice(0)) c.disconnect();
  });

  function pusher(queue: string): TaskBuffer<{ EFFECT: () => undefined }, typeof redisOption> {
    const b = new TaskBuffer({ redis: redisOption, queue, handlers: { EFFECT: () => undefined } });
    buffers.push(b);
    return b;
  }

  function sideCounts(queue: string): {
    effects: () => Promise<Record<string, string>>;
    runs: () => Promise<Record<string, string>>;
  } {
    const c = new Redis(REDIS_URL);
    clients.push(c);
    return {
      effects: () => c.hgetall(`${PREFIX}:${queue}:test-effects`),
      runs: () => c.hgetall(`${PREFIX}:${queue}:test-runs`),
    };
  }

  it('a worker in another process consumes jobs pushed by this one', async () => {
    const queue = queueName('xproc');
    queues.push(queue);
    const child = startWorker(queue, { workers: 4, leaseMs: 2000, handlerMs: 5, maxAttempts: 5 });
    children.push(child);
    const tasks = pusher(queue);
    const ids: number[] = [];
    for (let seq = 0; seq < 20; seq++) ids.push(await tasks.push('EFFECT', { seq } as never));
    await child.ready;
    await until(async () => (await tasks.stats()).done === 20, 30_000, `20 done (child output: ${child.out.join('')})`);
    const side = sideCounts(queue);
    const effects = await side.effects();
    expect(
      Object.keys(effects)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(ids.sort((a, b) => a - b));
    expect(await tasks.stats()).toEqual({ pending: 0, active: 0, done: 20, failed: 0, dead: 0 });
  }, 60_000);

  it('counts attempts lost to killed workers: a job whose worker dies every time ends in dead letters after maxAttempts', async () => {
    const queue = queueName('stall');
    queues.push(queue);
    const tasks = pusher(queue);
    const id = await tasks.push('EFFECT', { seq: 0 } as never, { maxAttempts: 2 });
    const opts = { workers: 1, leaseMs: 500, handlerMs: 1, maxAttempts: 2, hang: true };
    const side = sideCounts(queue);
    for (let run = 1; run <= 2; run++) {
      const child = startWorker(queue, opts);
      children.push(child);
      await until(async () => Number((await side.runs())[String(id)] ?? 0) === run, 20_000, `run ${run} started`);
      child.proc.kill('SIGKILL');
      await child.exited;
    }
    // A third process finds the job stalled a second time: out of attempts, it is a dead letter, not run again.
    const last = startWorker(queue, opts);
    children.push(last);
    await until(async () => (await tasks.stats()).dead === 1, 20_000, 'dead letter').catch(async (err: unknown) => {
      throw new Error(
        `${(err as Error).message}: stats ${JSON.stringify(await tasks.stats())}, runs ${JSON.stringify(await side.runs())}, children: ${children.map((c) => c.out.join('')).join(' / ')}`,
      );
    });
    const letters = await tasks.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ id, type: 'EFFECT', attempts: 2 });
    expect(letters[0]!.error).toMatch(/ERR_BUFFER_LEASE_EXPIRED|ran out of attempts/);
    expect(Number((await side.runs())[String(id)])).toBe(2);
    expect(await side.effects()).toEqual({});
  }, 60_000);

  it('a worker process exits on its own after stop(): nothing keeps it alive', async () => {
    const queue = queueName('exit');
    queues.push(queue);
    const tasks = pusher(queue);
    for (let seq = 0; seq < 5; seq++) await tasks.push('EFFECT', { seq } as never);
    const child = startWorker(queue, { workers: 2, leaseMs: 2000, handlerMs: 5, maxAttempts: 5, stopAfter: 5 });
    children.push(child);
    const exitedInTime = await Promise.race([child.exited.then(() => true), sleep(30_000).then(() => false)]);
    expect(exitedInTime, child.out.join('')).toBe(true);
    expect(child.proc.exitCode).toBe(0);
    expect(child.out.join('')).toContain('stopped');
  }, 60_000);

  it('600 jobs, two worker processes, six SIGKILLs: every job done once in the end state, none dead', async () => {
    const JOBS = 600;
    const queue = queueName('crash');
    queues.push(queue);
    const tasks = pusher(queue);
    const jobs = Array.from({ length: JOBS }, (_, seq) => ({ type: 'EFFECT' as const, data: { seq } as never }));
    const ids = await tasks.pushMany(jobs);
    expect(new Set(ids).size).toBe(JOBS);
    const t0 = Date.now();
    const opts = { workers: 4, leaseMs: 1000, handlerMs: 60, maxAttempts: 10 };
    const slots = [startWorker(queue, opts), startWorker(queue, opts)];
    children.push(...slots);
    let kills = 0;
    for (let round = 0; kills < 6 && round < 30; round++) {
      const i = round % 2;
      const victim = slots[i]!;
      await victim.ready;
      await sleep(300 + Math.random() * 300);
      victim.proc.kill('SIGKILL');
      await victim.exited;
      expect(victim.proc.signalCode, victim.out.join('')).toBe('SIGKILL');
      kills++;
      slots[i] = startWorker(queue, opts);
      children.push(slots[i]!);
    }
    expect(kills).toBe(6);
    await until(async () => (await tasks.stats()).done === JOBS, 90_000 - (Date.now() - t0), 'every job done');
    const elapsed = Date.now() - t0;
    const side = sideCounts(queue);
    const effects = await side.effects();
    const runs = await side.runs();
    const totalRuns = Object.values(runs).reduce((n, v) => n + Number(v), 0);
    // Re-executions: jobs that a killed worker was running, run again after stalled-job recovery.
    console.log(
      `[buffers/bullmq] crash test: ${JOBS} jobs, ${kills} SIGKILLs, ${totalRuns - JOBS} re-executions, ${elapsed} ms`,
    );
    expect(Object.keys(effects)).toHaveLength(JOBS);
    expect(
      Object.keys(effects)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([...ids].sort((a, b) => a - b));
    expect(totalRuns).toBeGreaterThanOrEqual(JOBS);
    expect(await tasks.stats()).toEqual({ pending: 0, active: 0, done: JOBS, failed: 0, dead: 0 });
    expect(await tasks.deadLetters()).toEqual([]);
    expect(elapsed).toBeLessThan(90_000);
  }, 120_000);
});
