import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/overload-portal.ts', import.meta.url));

/** The overload fixture portal in a child process. */
export interface FixtureProcess {
  proc: ChildProcess;
  port: number;
  /** The probes port, with `PROBES: '1'`. */
  probesPort: number | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** SIGKILL it if it still runs, and wait for the exit. */
  kill(): Promise<void>;
  stderr(): string;
}

/** Start `fixtures/overload-portal.ts` (see its header for the env) and resolve once it listens. */
export async function startFixture(env: Record<string, string | undefined>): Promise<FixtureProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent' };
  delete childEnv.KUBERNETES_SERVICE_HOST;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture did not start in 60 s: ${err}`)), 60_000);
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /PORT \d+ PROBES \S+\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`fixture exited before listening: ${err}`));
    });
  });
  const [, port, probes] = /PORT (\d+) PROBES (\S+)/.exec(line)!;
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
  return {
    proc,
    port: Number(port),
    probesPort: probes === '-' ? undefined : Number(probes),
    exited,
    alive,
    kill: async () => {
      if (alive()) proc.kill('SIGKILL');
      await exited;
    },
    stderr: () => err,
  };
}

/** One GET on a fresh connection: status and body, or the connection error code as status. */
export function get(port: number, path: string): Promise<{ status: number | string; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: e.code ?? e.message, body: '' }));
    req.end();
  });
}
