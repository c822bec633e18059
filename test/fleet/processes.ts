import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { until } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/instance.ts', import.meta.url));

/** One fleet instance in a child process. */
export interface FleetChild {
  proc: ChildProcess;
  port: number;
  url: string;
  stderr: () => string;
  /** POST a control command; resolves to the JSON answer. */
  ctl<T = Record<string, unknown>>(path: string, body: unknown): Promise<T>;
  /** A socket.io client with this token, connected. */
  connect(token: string): Promise<ClientSocket>;
  /** SIGKILL the process and remove its data dir. */
  kill(): Promise<void>;
}

/** Start `fixtures/instance.ts` in a child process and resolve once it listens and its Redis check is OK. */
export async function startInstance(name: string, redisUrl: string, waitForRedis = true): Promise<FleetChild> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-fleet-child-'));
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent', FLEET_NAME: name, REDIS_URL: redisUrl, DATA_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise((r) => proc.once('exit', r));
  const sockets: ClientSocket[] = [];
  try {
    await until(() => /PORT \d+/.test(out) || proc.exitCode !== null, 20_000, 'child PORT line');
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`fleet child did not start: ${String(e)} stderr=${err}`);
  }
  if (proc.exitCode !== null) throw new Error(`fleet child exited: ${err}`);
  const port = Number(/PORT (\d+)/.exec(out)![1]);
  const url = `http://127.0.0.1:${port}`;
  const child: FleetChild = {
    proc,
    port,
    url,
    stderr: () => err,
    async ctl<T>(path: string, body: unknown): Promise<T> {
      const r = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await r.json()) as T;
    },
    connect(token) {
      const c = ioClient(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
      sockets.push(c);
      return new Promise((resolve, reject) => {
        c.once('connect', () => resolve(c));
        c.once('connect_error', reject);
      });
    },
    async kill() {
      for (const s of sockets) s.disconnect();
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (waitForRedis) {
    await until(
      async () => {
        const r = await fetch(`${url}/status`).catch(() => undefined);
        const body = r ? ((await r.json()) as { checks?: Record<string, { state: string }> }) : undefined;
        return body?.checks?.redis?.state === 'OK';
      },
      10_000,
      'child redis check OK',
    );
  }
  return child;
}
