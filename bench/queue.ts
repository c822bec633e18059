/**
 * Queue benchmark: TaskBuffer end-to-end jobs/s (push -> handler -> complete), push-only and pushMany, at
 * durability 'normal' and 'full', against plainjob (npm devDependency, its better-sqlite3 driver) and a
 * minimal hand-written better-sqlite3 queue loop doing the same work on the same machine in the same run
 * (same WAL mode and synchronous setting for all three). Rounds rotate the order of the contenders; medians
 * and ratios are printed.
 *
 * Then, when Redis answers on REDIS_URL (default redis://127.0.0.1:6379): raw BullMQ Queue/Worker end-to-end
 * vs TaskBuffer on the BullMQ engine (same concurrency, same push pattern) in two like-for-like pairs: plain
 * FIFO jobs (TaskBuffer `priorities: false`) and prioritized jobs (TaskBuffer's default higher-first order),
 * with the SQLite engine for reference.
 *
 *   npm run bench:queue            (tsx bench/queue.ts [--rounds=N] [--normal=N] [--full=N] [--redis=N] [--bullmq-only])
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { better, defineQueue, defineWorker } from 'plainjob';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { TaskBuffer, type Durability } from '../src/buffers/index.js';
import { redisAvailable } from '../test/helpers.js';

process.env.GATEHOUSE_LOG_LEVEL ??= 'silent';

const arg = (name: string, dflt: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
};
const ROUNDS = arg('rounds', 3);
const JOBS: Record<Durability, number> = { normal: arg('normal', 20_000), full: arg('full', 5_000) };
const CHUNK = 500;

interface Result {
  push: number;
  pushMany: number;
  e2e: number;
}

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-queue-'));
const handler = async (d: { i: number }): Promise<number> => d.i;

/** The baseline: the simplest correct SQLite queue one would write by hand (one job per statement). */
async function baseline(durability: Durability, n: number): Promise<Result> {
  const dir = tmp();
  const db = new BetterSqlite3(path.join(dir, 'q.db'), { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec(`CREATE TABLE jobs (id INTEGER PRIMARY KEY, state TEXT NOT NULL, payload TEXT NOT NULL, lease_until INTEGER);
           CREATE INDEX jobs_pending ON jobs (state, id);`);
  const insert = db.prepare(`INSERT INTO jobs (state, payload) VALUES ('pending', ?)`);
  const claim = db.prepare(
    `UPDATE jobs SET state = 'active', lease_until = ? WHERE id = (SELECT id FROM jobs WHERE state = 'pending' ORDER BY id LIMIT 1) RETURNING id, payload`,
  );
  const complete = db.prepare(`UPDATE jobs SET state = 'done' WHERE id = ?`);
  const insertMany = db.transaction((items: string[]) => {
    for (const p of items) insert.run(p);
  });

  let t = performance.now();
  for (let i = 0; i < n; i++) insert.run(JSON.stringify({ i }));
  const push = n / ((performance.now() - t) / 1000);
  db.exec('DELETE FROM jobs');

  t = performance.now();
  for (let i = 0; i < n; i += CHUNK)
    insertMany(Array.from({ length: Math.min(CHUNK, n - i) }, (_, k) => JSON.stringify({ i: i + k })));
  const pushMany = n / ((performance.now() - t) / 1000);
  db.exec('DELETE FROM jobs');

  t = performance.now();
  for (let i = 0; i < n; i++) insert.run(JSON.stringify({ i }));
  let done = 0;
  for (;;) {
    const row = claim.get(Date.now() + 30_000) as { id: number; payload: string } | undefined;
    if (!row) break;
    await handler(JSON.parse(row.payload) as { i: number });
    complete.run(row.id);
    done++;
  }
  const e2e = done / ((performance.now() - t) / 1000);
  if (done !== n) throw new Error(`baseline processed ${done} of ${n}`);
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { push, pushMany, e2e };
}

const silent = {
  error: (): void => undefined,
  warn: (): void => undefined,
  info: (): void => undefined,
  debug: (): void => undefined,
};

/** plainjob on its better-sqlite3 driver, with the same WAL + synchronous pragmas. */
function plainQueue(file: string, durability: Durability): ReturnType<typeof defineQueue> {
  const db = new BetterSqlite3(file, { timeout: 5000 });
  const queue = defineQueue({ connection: better(db), logger: silent });
  // defineQueue sets WAL and synchronous = NORMAL itself; set the level under test after it.
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  const sync = db.pragma('synchronous', { simple: true });
  if (sync !== (durability === 'full' ? 2 : 1)) throw new Error(`plainjob connection synchronous=${String(sync)}`);
  return queue;
}

async function plainjob(durability: Durability, n: number): Promise<Result> {
  const dir = tmp();
  const q1 = plainQueue(path.join(dir, 'push.db'), durability);
  let t = performance.now();
  for (let i = 0; i < n; i++) q1.add('JOB', { i });
  const push = n / ((performance.now() - t) / 1000);
  q1.close();

  const q2 = plainQueue(path.join(dir, 'push-many.db'), durability);
  t = performance.now();
  for (let i = 0; i < n; i += CHUNK)
    q2.addMany(
      'JOB',
      Array.from({ length: Math.min(CHUNK, n - i) }, (_, k) => ({ i: i + k })),
    );
  const pushMany = n / ((performance.now() - t) / 1000);
  q2.close();

  const queue = plainQueue(path.join(dir, 'e2e.db'), durability);
  let done = 0;
  let resolveDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (resolveDone = resolve));
  const worker = defineWorker('JOB', async (job) => void (await handler(JSON.parse(job.data) as { i: number })), {
    queue,
    logger: silent,
    pollIntervall: 10,
    onCompleted: () => {
      if (++done === n) resolveDone();
    },
  });
  void worker.start();
  t = performance.now();
  for (let i = 0; i < n; i++) queue.add('JOB', { i });
  await finished;
  const e2e = n / ((performance.now() - t) / 1000);
  await worker.stop();
  const doneRows = queue.countJobs({ status: 2 });
  if (doneRows !== n) throw new Error(`plainjob done ${doneRows} of ${n}`);
  queue.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { push, pushMany, e2e };
}

async function gatehouse(durability: Durability, n: number): Promise<Result> {
  const dir = tmp();
  // Bare handler as in the API contract; registration rules off so nothing is logged per round. A fresh file
  // per phase, as for plainjob (WAL checkpoints of an earlier phase do not land in a later one).
  const opts = { dataDir: dir, durability, workers: 16, enforce: 'off', handlers: { JOB: handler } } as const;

  const p1 = new TaskBuffer({ ...opts, file: path.join(dir, 'push.db') });
  let t = performance.now();
  for (let i = 0; i < n; i++) p1.push('JOB', { i });
  const push = n / ((performance.now() - t) / 1000);
  await p1.stop();

  const p2 = new TaskBuffer({ ...opts, file: path.join(dir, 'push-many.db') });
  t = performance.now();
  for (let i = 0; i < n; i += CHUNK) {
    p2.pushMany(
      Array.from({ length: Math.min(CHUNK, n - i) }, (_, k) => ({ type: 'JOB' as const, data: { i: i + k } })),
    );
  }
  const pushMany = n / ((performance.now() - t) / 1000);
  await p2.stop();

  const tasks = new TaskBuffer({ ...opts, file: path.join(dir, 'e2e.db') });
  let done = 0;
  const finished = new Promise<void>((resolve) =>
    tasks.on('completed', () => {
      if (++done === n) resolve();
    }),
  );
  tasks.start();
  t = performance.now();
  for (let i = 0; i < n; i++) tasks.push('JOB', { i });
  await finished;
  const e2e = n / ((performance.now() - t) / 1000);
  const s = tasks.stats();
  if (s.done !== n) throw new Error(`TaskBuffer done ${s.done} of ${n}`);
  await tasks.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  return { push, pushMany, e2e };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const fmt = (x: number): string => Math.round(x).toString().padStart(7);

console.log(
  `Node ${process.version}, ${os.cpus().length} cores, rounds=${ROUNDS}, jobs normal=${JOBS.normal} full=${JOBS.full}`,
);
const contenders = { 'hand-written': baseline, plainjob, TaskBuffer: gatehouse } as const;
type Name = keyof typeof contenders;
const names = Object.keys(contenders) as Name[];
// --bullmq-only skips the SQLite tables (the BullMQ section still runs the SQLite engine for reference).
for (const durability of process.argv.includes('--bullmq-only') ? [] : (['normal', 'full'] as const)) {
  const n = JOBS[durability];
  for (const name of names) await contenders[name](durability, Math.min(n, 1000)); // warm-up (JIT, page cache)
  const results: Record<Name, Result[]> = { 'hand-written': [], plainjob: [], TaskBuffer: [] };
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order each round so no contender always runs first or last.
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length] as Name;
      results[name].push(await contenders[name](durability, n));
    }
  }
  console.log(`\ndurability=${durability} (${n} jobs, medians of ${ROUNDS} rounds, jobs/s)`);
  console.log('metric      hand-written   plainjob  TaskBuffer   TB/plainjob  TB/hand-written');
  for (const k of ['push', 'pushMany', 'e2e'] as const) {
    const [b, p, o] = names.map((name) => median(results[name].map((x) => x[k]))) as [number, number, number];
    console.log(
      `${k.padEnd(10)}  ${fmt(b)}      ${fmt(p)}    ${fmt(o)}      ${(o / p).toFixed(2).padStart(5)}        ${(o / b).toFixed(2).padStart(5)}`,
    );
  }
}

// ---- BullMQ: raw Queue/Worker vs TaskBuffer on the BullMQ engine (and SQLite for reference) ----

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const REDIS_JOBS = arg('redis', 5000);
const CONCURRENCY = 16;
const IN_FLIGHT_PUSHES = 100;

/** Push `n` jobs with up to IN_FLIGHT_PUSHES adds outstanding (the same pattern for both contenders). */
async function pushAll(n: number, add: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i += IN_FLIGHT_PUSHES) {
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT_PUSHES, n - i) }, (_, k) => add(i + k)));
  }
}

/** Raw BullMQ; `prioritized` gives every job a BullMQ priority, as TaskBuffer's default higher-first order does. */
async function rawBullmq(n: number, prioritized: boolean): Promise<number> {
  const name = `bench-raw-${randomUUID()}`;
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection, prefix: 'gatehouse-bench' });
  let done = 0;
  let resolveDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (resolveDone = resolve));
  const worker = new Worker(name, async (job) => handler(job.data as { i: number }), {
    connection,
    prefix: 'gatehouse-bench',
    concurrency: CONCURRENCY,
  });
  worker.on('completed', () => {
    if (++done === n) resolveDone();
  });
  await worker.waitUntilReady();
  const t = performance.now();
  await pushAll(n, (i) =>
    queue.add('JOB', { i }, prioritized ? { attempts: 5, priority: 2 ** 21 - 1 } : { attempts: 5 }),
  );
  await finished;
  const rate = n / ((performance.now() - t) / 1000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  return rate;
}

async function taskBufferBullmq(n: number, priorities: boolean): Promise<number> {
  const queue = `bench-tb-${randomUUID()}`;
  const tasks = new TaskBuffer({
    redis: { url: REDIS_URL, keyPrefix: 'gatehouse-bench' },
    queue,
    workers: CONCURRENCY,
    enforce: 'off',
    priorities,
    handlers: { JOB: handler },
  });
  let done = 0;
  const finished = new Promise<void>((resolve) =>
    tasks.on('completed', () => {
      if (++done === n) resolve();
    }),
  );
  tasks.start();
  const t = performance.now();
  await pushAll(n, (i) => tasks.push('JOB', { i }));
  await finished;
  const rate = n / ((performance.now() - t) / 1000);
  const s = await tasks.stats();
  if (s.done !== n) throw new Error(`TaskBuffer on BullMQ done ${s.done} of ${n}`);
  await tasks.stop();
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const q = new Queue(queue, { connection, prefix: 'gatehouse-bench' });
  await q.obliterate({ force: true });
  await q.close();
  connection.disconnect();
  return rate;
}

if (await redisAvailable(REDIS_URL)) {
  // Two like-for-like pairs: plain FIFO (BullMQ's wait list; TaskBuffer with priorities: false) and higher-first
  // priorities (BullMQ's prioritized set; TaskBuffer's default), plus the SQLite engine for reference.
  const redisContenders = {
    'raw BullMQ': (n: number) => rawBullmq(n, false),
    'TB/BullMQ priorities:false': (n: number) => taskBufferBullmq(n, false),
    'raw BullMQ prioritized': (n: number) => rawBullmq(n, true),
    'TB/BullMQ (default)': (n: number) => taskBufferBullmq(n, true),
    'TaskBuffer/SQLite': async (n: number): Promise<number> => (await gatehouse('normal', n)).e2e,
  } as const;
  type RName = keyof typeof redisContenders;
  const rnames = Object.keys(redisContenders) as RName[];
  for (const name of rnames) await redisContenders[name](Math.min(REDIS_JOBS, 500)); // warm-up
  const results = Object.fromEntries(rnames.map((name) => [name, [] as number[]])) as Record<RName, number[]>;
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < rnames.length; k++) {
      const name = rnames[(r + k) % rnames.length] as RName;
      results[name].push(await redisContenders[name](REDIS_JOBS));
    }
  }
  const m = Object.fromEntries(rnames.map((name) => [name, median(results[name])])) as Record<RName, number>;
  console.log(`
BullMQ engine (${REDIS_JOBS} jobs end-to-end, concurrency ${CONCURRENCY}, ${IN_FLIGHT_PUSHES} pushes in flight, medians of ${ROUNDS} rounds, jobs/s)`);
  for (const name of rnames) console.log(`${name.padEnd(28)} ${fmt(m[name])}`);
  console.log(
    `FIFO:        TaskBuffer priorities:false / raw BullMQ             ${(m['TB/BullMQ priorities:false'] / m['raw BullMQ']).toFixed(2)}  (target >= 0.9)`,
  );
  console.log(
    `prioritized: TaskBuffer (default) / raw BullMQ prioritized      ${(m['TB/BullMQ (default)'] / m['raw BullMQ prioritized']).toFixed(2)}  (target >= 0.9)`,
  );
  console.log(
    `             TaskBuffer (default) / raw BullMQ (FIFO)           ${(m['TB/BullMQ (default)'] / m['raw BullMQ']).toFixed(2)}  (the price of higher-first order)`,
  );
} else {
  console.log(`
BullMQ engine: SKIPPED (no Redis on ${REDIS_URL})`);
}
