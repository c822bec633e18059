// npm run bench:queue:ab -- <checkoutA> <checkoutB>: TaskBuffer of two checkouts (e.g. a worktree of the previous
// release and this one) loaded side by side in one process, in alternating rounds so machine noise hits both alike.
// Per round and checkout: SQLite push rate (N pushes), SQLite end to end (N jobs through 16 workers), and BullMQ end
// to end on the local Redis (M jobs) unless BENCH_REDIS=0. Prints medians and the per-round B/A ratios' medians.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [dirA, dirB] = process.argv.slice(2);
if (!dirA || !dirB) {
  console.error('usage: npm run bench:queue:ab -- <checkoutA> <checkoutB>');
  process.exit(2);
}
process.env.GATEHOUSE_LOG_LEVEL ??= 'silent';
const N = Number(process.env.BENCH_JOBS ?? 20_000);
const M = Number(process.env.BENCH_REDIS_JOBS ?? 3_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const REDIS = process.env.BENCH_REDIS !== '0';

interface Buffer {
  push(type: string, data: unknown): unknown;
  start(): void;
  stop(): Promise<void>;
  on(event: 'completed', fn: () => void): void;
}
type BufferClass = new (options: Record<string, unknown>) => Buffer;
const load = async (dir: string): Promise<BufferClass> =>
  ((await import(path.resolve(dir, 'src/buffers/index.ts'))) as { TaskBuffer: BufferClass }).TaskBuffer;
const handlers = { T: async (d: { i: number }) => d.i };
const completions = (t: Buffer, n: number): Promise<void> =>
  new Promise((resolve) => {
    let done = 0;
    t.on('completed', () => {
      if (++done === n) resolve();
    });
  });

async function sqlite(TaskBuffer: BufferClass): Promise<{ push: number; e2e: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-queue-ab-'));
  const t = new TaskBuffer({ dataDir: dir, handlers, workers: 16, durability: 'normal', enforce: 'off' });
  let t0 = performance.now();
  for (let i = 0; i < N; i++) t.push('T', { i });
  const push = N / ((performance.now() - t0) / 1000);
  const done = completions(t, N);
  t0 = performance.now();
  t.start();
  await done;
  const e2e = N / ((performance.now() - t0) / 1000);
  await t.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  return { push, e2e };
}

async function bullmq(TaskBuffer: BufferClass): Promise<number> {
  const queue = `ab${Math.random().toString(36).slice(2)}`;
  const t = new TaskBuffer({
    redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'gh-queue-ab' },
    queue,
    handlers,
    workers: 16,
    enforce: 'off',
  });
  t.start();
  const done = completions(t, M);
  const t0 = performance.now();
  const inflight: unknown[] = [];
  for (let i = 0; i < M; i++) {
    inflight.push(t.push('T', { i }));
    if (inflight.length >= 100) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  await done;
  const rate = M / ((performance.now() - t0) / 1000);
  await t.stop();
  return rate;
}

const classes = { A: await load(dirA), B: await load(dirB) };
const rows: Record<string, number[]> = {};
const add = (key: string, value: number): void => void (rows[key] ??= []).push(value);
for (let r = 0; r < ROUNDS; r++) {
  for (const v of (r % 2 ? ['B', 'A'] : ['A', 'B']) as Array<'A' | 'B'>) {
    const s = await sqlite(classes[v]);
    add(`${v}.sqlite push`, s.push);
    add(`${v}.sqlite e2e`, s.e2e);
    if (REDIS) add(`${v}.bullmq e2e`, await bullmq(classes[v]));
  }
}
const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log(`node ${process.version}, ${ROUNDS} rounds, jobs/s medians (A ${dirA}, B ${dirB})`);
for (const k of Object.keys(rows).sort()) console.log(k.padEnd(18), Math.round(med(rows[k]!)));
for (const c of ['sqlite push', 'sqlite e2e', ...(REDIS ? ['bullmq e2e'] : [])]) {
  const a = rows[`A.${c}`]!;
  const b = rows[`B.${c}`]!;
  console.log(`B/A ${c.padEnd(12)} ${med(b.map((x, i) => x / a[i]!)).toFixed(3)}`);
}
process.exit(0);
