import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BufferError, DatabaseBuffer, TaskBuffer, runWorker } from '../../src/buffers/index.js';
import { Database } from '../../src/database/index.js';
import { tempDir } from '../helpers.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'keepalive-worker.ts');

interface Child {
  proc: ChildProcess;
  output: () => string;
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startChild(args: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'info' },
  });
  let out = '';
  const waiters: (() => void)[] = [];
  const onData = (b: Buffer): void => {
    out += b.toString();
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.on('exit', (code, signal) => r({ code, signal })),
  );
  const waitFor = (pattern: RegExp, timeoutMs = 30_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in:\n${out}`)), timeoutMs);
      const check = (): void => {
        if (pattern.test(out)) {
          clearTimeout(timer);
          resolve();
        } else if (proc.exitCode !== null || proc.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`worker exited (${proc.exitCode ?? proc.signalCode}) before ${pattern}:\n${out}`));
        } else waiters.push(check);
      };
      check();
    });
  void exited.then(() => {
    for (const w of waiters.splice(0)) w();
  });
  return { proc, output: () => out, waitFor, exited };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const alive = (c: Child): boolean => c.proc.exitCode === null && c.proc.signalCode === null;

describe('worker processes (real child processes)', () => {
  let dir: string;
  let cleanup: () => void;
  const children: Child[] = [];

  beforeEach(() => {
    ({ dir, cleanup } = tempDir('gatehouse-worker-'));
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (alive(c)) c.proc.kill('SIGKILL');
    cleanup();
  });

  const spawnWorker = (args: Record<string, unknown>): Child => {
    const c = startChild({ dataDir: dir, ...args });
    children.push(c);
    return c;
  };
  /** Push from this process (another process than the worker), after the worker started. */
  const pushFromHere = async (queue: string, n: number): Promise<number> => {
    const producer = new TaskBuffer({ dataDir: dir, queue, handlers: { JOB: () => undefined } });
    const id = producer.push('JOB', { n });
    await producer.stop();
    return id;
  };
  const statsOf = async (queue: string) => {
    const reader = new TaskBuffer({ dataDir: dir, queue, handlers: { JOB: () => undefined } });
    const s = reader.stats();
    await reader.stop();
    return s;
  };

  it('a started TaskBuffer keeps a process that does nothing else alive and runs jobs pushed later by another process', async () => {
    const worker = spawnWorker({ kind: 'task', mode: 'start', queue: 'plain' });
    await worker.waitFor(/^ready$/m);
    await sleep(700); // idle for many poll intervals: without keep-alive the process would be gone by now
    expect(alive(worker)).toBe(true);
    const id = await pushFromHere('plain', 7);
    await worker.waitFor(new RegExp(`^done ${id} 7$`, 'm'));
    expect(alive(worker)).toBe(true);
    expect((await statsOf('plain')).done).toBe(1);
  });

  it('with keepAlive: false the process exits on its own while idle, and the job pushed later waits in the store', async () => {
    const worker = spawnWorker({ kind: 'task', mode: 'start', queue: 'unref', keepAlive: false });
    const exit = await worker.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(worker.output()).toMatch(/^ready$/m);
    await pushFromHere('unref', 1);
    expect(await statsOf('unref')).toMatchObject({ pending: 1, done: 0 });
  });

  it('runWorker: SIGTERM during a job lets it finish, then the process exits 0', async () => {
    const worker = spawnWorker({ kind: 'task', mode: 'runWorker', queue: 'graceful', handlerMs: 800 });
    await worker.waitFor(/^ready$/m);
    await sleep(300);
    expect(alive(worker)).toBe(true);
    const id = await pushFromHere('graceful', 3);
    await worker.waitFor(new RegExp(`^started ${id}$`, 'm'));
    worker.proc.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit, worker.output()).toEqual({ code: 0, signal: null });
    expect(worker.output()).toMatch(new RegExp(`^done ${id} 3$`, 'm'));
    expect(worker.output()).toContain('every in-flight job finished');
    expect(await statsOf('graceful')).toMatchObject({ pending: 0, active: 0, done: 1 });
  });

  it('runWorker: a job that outlives timeoutMs is released for another run and the process exits 1', async () => {
    const worker = spawnWorker({ kind: 'task', mode: 'runWorker', queue: 'cut', handlerMs: 20_000, timeoutMs: 300 });
    await worker.waitFor(/^ready$/m);
    const id = await pushFromHere('cut', 4);
    await worker.waitFor(new RegExp(`^started ${id}$`, 'm'));
    worker.proc.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit, worker.output()).toEqual({ code: 1, signal: null });
    expect(worker.output()).not.toMatch(/^done /m);
    expect(worker.output()).toContain('released to run again');
    // Released, not lost: pending again with its attempt counted.
    expect(await statsOf('cut')).toMatchObject({ pending: 1, active: 0, done: 0, dead: 0 });
  });

  it('runWorker: a second SIGTERM while stopping exits at once with 143', async () => {
    const worker = spawnWorker({
      kind: 'task',
      mode: 'runWorker',
      queue: 'twice',
      handlerMs: 20_000,
      timeoutMs: 20_000,
    });
    await worker.waitFor(/^ready$/m);
    const id = await pushFromHere('twice', 5);
    await worker.waitFor(new RegExp(`^started ${id}$`, 'm'));
    worker.proc.kill('SIGTERM');
    await worker.waitFor(/SIGTERM received/);
    const t0 = Date.now();
    worker.proc.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 143, signal: null });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a started DatabaseBuffer keeps its process alive and applies writes another process records later', async () => {
    const mainDb = path.join(dir, 'app.db');
    const db = new Database({ path: mainDb, tables: { users: 'id INTEGER PRIMARY KEY, name TEXT' } });
    const worker = spawnWorker({ kind: 'db', mode: 'runWorker', mainDb });
    await worker.waitFor(/^ready$/m);
    await sleep(700);
    expect(alive(worker)).toBe(true);
    const writer = new DatabaseBuffer({ mainDb: db, dataDir: dir });
    writer.insert('users', [{ id: 1, name: 'Alice' }]); // recorded here, never started: the worker applies it
    await worker.waitFor(/^applied 1$/m);
    await writer.stop();
    expect(db.query('SELECT id, name FROM users')).toEqual([{ id: 1, name: 'Alice' }]);
    worker.proc.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    await db.close();
  });
});

describe('runWorker (in process)', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('gatehouse-worker-'));
  });
  afterEach(() => cleanup());

  it('refuses bad options naming them, and starts nothing then', async () => {
    const tasks = new TaskBuffer({ dataDir: dir, handlers: { JOB: () => undefined } });
    expect(() => runWorker(tasks, { timeoutMs: -1 })).toThrow(/timeoutMs must be an integer/);
    expect(() => runWorker(tasks, { signals: [] })).toThrow(/signals must be a non-empty array/);
    expect(() => runWorker([], {})).toThrow(BufferError);
    expect(tasks.running).toBe(0);
    expect(process.listenerCount('SIGTERM')).toBe(0);
    tasks.push('JOB', {});
    await new Promise((r) => setTimeout(r, 100));
    expect(tasks.stats()).toMatchObject({ pending: 1, done: 0 }); // never started
    await tasks.stop();
  });

  it('stop() from code stops every buffer, removes the signal handlers and resolves with the exit code', async () => {
    const seen: number[] = [];
    const tasks = new TaskBuffer({
      dataDir: dir,
      pollIntervalMs: 20,
      handlers: { JOB: (d: { n: number }) => void seen.push(d.n) },
    });
    const before = process.listenerCount('SIGTERM');
    const exits: number[] = [];
    const handle = runWorker(tasks, { exit: (code) => exits.push(code) });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    tasks.push('JOB', { n: 1 });
    await new Promise<void>((r) => tasks.once('completed', () => r()));
    expect(await handle.stop()).toBe(0);
    expect(await handle.stopped).toBe(0);
    expect(seen).toEqual([1]);
    expect(exits).toEqual([]); // stop() from code exits nothing
    expect(process.listenerCount('SIGTERM')).toBe(before);
    expect(() => tasks.push('JOB', { n: 2 })).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_CLOSED' }));
  });
});
