import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/portal.ts', import.meta.url));

/** A fixture portal in a child process; `lines` collects its stdout lines. */
export interface Child {
  proc: ChildProcess;
  port: number;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(line: string, ms?: number): Promise<void>;
}

/** Start `fixtures/portal.ts` with `node --import tsx` and resolve once it listens. */
export async function startChild(env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let buf = '';
  let stderr = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) !== -1) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = async (line: string, ms = 15_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!lines.some((l) => l.startsWith(line))) {
      if (Date.now() > deadline || proc.exitCode !== null)
        throw new Error(`child never printed ${line}; stdout=${lines.join('|')} stderr=${stderr}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  await waitFor('PORT ', 45_000); // tsx start-up on a loaded two-core machine can take many seconds
  const port = Number(lines.find((l) => l.startsWith('PORT '))!.slice(5));
  return { proc, port, lines, exited, waitFor };
}

/** Run the gatehouse CLI (bin/gatehouse.js) in a child process. */
export function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [`${ROOT}bin/gatehouse.js`, ...args], {
      cwd: ROOT,
      env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
