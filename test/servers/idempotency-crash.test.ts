import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'idempotent-child.ts');
const LEASE_SEC = 4;

interface Child {
  proc: ChildProcess;
  port: Promise<number>;
  started: Promise<void>;
  out: string[];
}

function start(dataDir: string, hang: boolean): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      LEASE_SEC: String(LEASE_SEC),
      HANG: hang ? '1' : '0',
      GATEHOUSE_LOG_LEVEL: 'silent',
    },
  });
  const out: string[] = [];
  let onPort!: (port: number) => void;
  let onStarted!: () => void;
  const port = new Promise<number>((r) => (onPort = r));
  const started = new Promise<void>((r) => (onStarted = r));
  proc.stdout!.on('data', (b: Buffer) => {
    out.push(b.toString());
    const text = out.join('');
    const m = /PORT (\d+)/.exec(text);
    if (m) onPort(Number(m[1]));
    if (text.includes('STARTED')) onStarted();
  });
  proc.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
  return { proc, port, started, out };
}

const children: Child[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of children.splice(0))
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  for (const c of cleanups.splice(0)) c();
});

function charge(port: number, key: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/api/charge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ amount: 12 }),
  });
}

describe('idempotency keys after a crash (real child processes, SIGKILL)', () => {
  it('frees the key of a process killed mid-handler once its lease runs out, instead of locking it', async () => {
    const { dir, cleanup } = tempDir('gatehouse-idem-crash-');
    cleanups.push(cleanup);
    // Two processes on one dataDir (the host's processes share the SQLite store): A hangs in its handler, B is up.
    const a = start(dir, true);
    const b = start(dir, false);
    children.push(a, b);
    const port = await b.port;
    const inFlight = charge(await a.port, 'crash-1').catch((err: unknown) => err);
    await a.started;
    a.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((r) => a.proc.once('exit', r));
    expect(await inFlight).toBeInstanceOf(Error); // the connection died with the process

    // Within the lease, the dead process still holds the key: nobody runs it twice.
    const held = await charge(port, 'crash-1');
    expect(Date.now() - killedAt).toBeLessThan(LEASE_SEC * 1000);
    expect(held.status).toBe(409);
    expect(((await held.json()) as { code: string }).code).toBe('ERR_IDEMPOTENCY_IN_FLIGHT');
    // Once the lease has run out, the key is free: the request runs here, once.
    let res: Response | undefined;
    const deadline = killedAt + (LEASE_SEC + 3) * 1000;
    while (Date.now() < deadline) {
      res = await charge(port, 'crash-1');
      if (res.status !== 409) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(res?.status).toBe(200);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(LEASE_SEC * 1000 - 1000);
    const body = (await res!.json()) as { charged: number; pid: number; runs: number };
    expect(body).toEqual({ charged: 12, pid: b.proc.pid, runs: 1 });
    expect(res!.headers.get('idempotency-replayed')).toBeNull();

    const replay = await charge(port, 'crash-1');
    expect(replay.headers.get('idempotency-replayed')).toBe('true');
    expect(await replay.json()).toEqual(body);
  }, 30_000);
});
