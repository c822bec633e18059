import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TaskBuffer } from '../../src/buffers/index.js';
import { tempDir } from '../helpers.js';

const EXAMPLE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'worker');

function start(script: string, dataDir: string, args: string[] = []) {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(EXAMPLE, script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATA_DIR: dataDir, GATEHOUSE_LOG_LEVEL: 'info', HANDLER_MS: '300' },
  });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, exited, output: () => out };
}

async function until(fn: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('examples/worker', () => {
  let dir: string;
  let cleanup: () => void;
  const procs: ReturnType<typeof start>[] = [];
  beforeEach(() => ({ dir, cleanup } = tempDir('gatehouse-worker-example-')));
  afterEach(() => {
    for (const p of procs.splice(0)) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    cleanup();
  });

  it('the worker sends what the producer pushed after it started, and exits 0 on SIGTERM', async () => {
    const worker = start('worker.ts', dir);
    procs.push(worker);
    await until(() => worker.output().includes('worker running until a signal'), 'the worker to start');
    const producer = start('producer.ts', dir, ['3']);
    procs.push(producer);
    expect(await producer.exited, producer.output()).toBe(0);
    await until(() => (worker.output().match(/email sent/g) ?? []).length === 3, 'three emails sent');
    expect(worker.proc.exitCode).toBeNull();
    worker.proc.kill('SIGTERM');
    expect(await worker.exited, worker.output()).toBe(0);
    const reader = new TaskBuffer({ dataDir: dir, queue: 'emails', handlers: { SEND_EMAIL: () => undefined } });
    expect(reader.stats()).toMatchObject({ pending: 0, active: 0, done: 3, dead: 0 });
    await reader.stop();
  });
});
