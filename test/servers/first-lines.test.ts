import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

interface Line {
  /** `APP ...` for the fixture's own console.log lines; else the level name of a log line. */
  kind: string;
  /** The console text, or the log line's `msg`. */
  text: string;
  raw: string;
}

interface Run {
  exit: { code: number | null; signal: NodeJS.Signals | null };
  lines: Line[];
  stderr: string;
}

/**
 * Run the fixture with stdout and stderr on files (not a terminal, not a pipe: what `node main.ts > app.log`
 * gives), as a user would: no GATEHOUSE_* or NODE_ENV settings, the default level. Returns its raw lines in the
 * order they reached the file.
 */
async function runFixture(dir: string, mode: string, onLine?: (lines: Line[], kill: () => void) => void): Promise<Run> {
  const out = join(dir, 'stdout.log');
  const err = join(dir, 'stderr.log');
  const outFd = openSync(out, 'w');
  const errFd = openSync(err, 'w');
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(VITEST|GATEHOUSE_|NODE_ENV$|NODE_OPTIONS$)/.test(k)),
  );
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/servers/fixtures/first-lines-portal.ts', join(dir, 'data'), mode],
    { stdio: ['ignore', outFd, errFd], env },
  );
  closeSync(outFd);
  closeSync(errFd);
  const read = (): Line[] => parse(readFileSync(out, 'utf8'));
  let poll: NodeJS.Timeout | undefined;
  if (onLine) poll = setInterval(() => onLine(read(), () => child.kill('SIGTERM')), 50);
  const exit = await new Promise<Run['exit']>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  clearInterval(poll);
  return { exit, lines: read(), stderr: readFileSync(err, 'utf8') };
}

function parse(text: string): Line[] {
  return text
    .split('\n')
    .filter((raw) => raw !== '')
    .map((raw) => {
      if (!raw.startsWith('{')) return { kind: 'APP', text: raw.replace(/^APP /, ''), raw };
      const line = JSON.parse(raw) as { level: number; msg: string };
      return { kind: LEVELS[line.level] ?? String(line.level), text: line.msg, raw };
    });
}

/** `kind text` per line, ports and volatile parts replaced, for comparing whole sequences. */
const shape = (lines: Line[]): string[] =>
  lines.map((l) => `${l.kind} ${l.text}`.replace(/:\d+\b/g, ':PORT').replace(/listening \d+/, 'listening PORT'));

describe('A portal process, first lines', () => {
  let cleanup: (() => void) | undefined;
  afterEach(() => cleanup?.());

  it('start, listen, first request and close: info only, and startup lines in order with console output', async () => {
    const t = tempDir('gh-first-');
    cleanup = t.cleanup;
    const run = await runFixture(t.dir, 'close');
    expect(run.exit, run.stderr).toEqual({ code: 0, signal: null });
    expect(run.stderr).toBe('');
    const lines = shape(run.lines);
    // Up to listening, log lines are written as they are made: exactly interleaved with console.log.
    expect(lines.slice(0, 5)).toEqual([
      'APP before the portal',
      'info auth.secret is not configured: generated one and stored it in dataDir (set auth.secret in production)',
      'APP before run',
      'info greeter listening on http://127.0.0.1:PORT',
      'APP listening PORT',
    ]);
    // Then lines are batched: the request line may reach the file after the console line written after it, but
    // the log lines keep their order, and close() writes them all out before it resolves.
    const logs = lines.slice(5).filter((l) => !l.startsWith('APP '));
    expect(logs).toEqual(['info request', 'info decommissioned: /ready now answers 503', 'info greeter closed']);
    expect(lines.filter((l) => l.startsWith('APP ')).slice(2)).toEqual([
      'APP listening PORT',
      'APP answered 200 {"message":"Hello, Ada!"}',
      'APP closed',
    ]);
    expect(lines.at(-1)).toBe('APP closed');
    const request = JSON.parse(run.lines.find((l) => l.text === 'request')!.raw) as Record<string, unknown>;
    expect(request).toMatchObject({ method: 'POST', path: '/api/greet', status: 200, service: 'greeter' });

    // The second start finds the secret: nothing at all before listening.
    const again = await runFixture(t.dir, 'close');
    expect(again.exit, again.stderr).toEqual({ code: 0, signal: null });
    expect(shape(again.lines).slice(0, 4)).toEqual([
      'APP before the portal',
      'APP before run',
      'info greeter listening on http://127.0.0.1:PORT',
      'APP listening PORT',
    ]);
    expect(again.lines.filter((l) => l.kind !== 'APP' && l.kind !== 'info')).toEqual([]);
  }, 90_000);

  it('SIGTERM: the shutdown lines at info, in order, and exit 0', async () => {
    const t = tempDir('gh-first-');
    cleanup = t.cleanup;
    let sent = false;
    const run = await runFixture(t.dir, 'signal', (lines, kill) => {
      if (!sent && lines.some((l) => l.text.startsWith('answered 200'))) {
        sent = true;
        kill();
      }
    });
    expect(run.exit, run.stderr).toEqual({ code: 0, signal: null });
    expect(run.stderr).toBe('');
    const logs = shape(run.lines).filter((l) => !l.startsWith('APP '));
    expect(logs).toEqual([
      'info auth.secret is not configured: generated one and stored it in dataDir (set auth.secret in production)',
      'info greeter listening on http://127.0.0.1:PORT',
      'info request',
      'info SIGTERM received: decommissioning, then draining',
      'info decommissioned: /ready now answers 503',
      'info greeter closed',
      'info shutdown complete',
    ]);
  }, 90_000);

  it('close() of a portal that never listened logs no decommission and no closing line', async () => {
    const t = tempDir('gh-first-');
    cleanup = t.cleanup;
    const run = await runFixture(t.dir, 'never-run');
    expect(run.exit, run.stderr).toEqual({ code: 0, signal: null });
    expect(run.stderr).toBe('');
    expect(shape(run.lines)).toEqual([
      'APP before the portal',
      'info auth.secret is not configured: generated one and stored it in dataDir (set auth.secret in production)',
      'info request',
      'APP injected 200',
      'APP closed',
    ]);
  }, 90_000);

  it('close() of a ControlPlane used as a store writer logs no decommission either', async () => {
    const t = tempDir('gh-first-');
    cleanup = t.cleanup;
    const run = await runFixture(t.dir, 'cp-writer');
    expect(run.exit, run.stderr).toEqual({ code: 0, signal: null });
    expect(run.stderr).toBe('');
    const lines = shape(run.lines);
    expect(lines.at(-1)).toBe('APP closed');
    expect(lines.filter((l) => /decommission|closed$/.test(l))).toEqual(['APP closed']);
    expect(run.lines.filter((l) => l.kind !== 'APP').map((l) => l.kind)).toEqual(['info']); // the audit line
  }, 90_000);

  it('entering MAINTENANCE warns and coming back to ACTIVE informs', async () => {
    const t = tempDir('gh-first-');
    cleanup = t.cleanup;
    const run = await runFixture(t.dir, 'maintenance');
    expect(run.exit, run.stderr).toEqual({ code: 0, signal: null });
    expect(shape(run.lines).slice(0, 6)).toEqual([
      'APP before the portal',
      'info auth.secret is not configured: generated one and stored it in dataDir (set auth.secret in production)',
      'warn lifecycle ACTIVE -> MAINTENANCE',
      'APP in maintenance',
      'info lifecycle MAINTENANCE -> ACTIVE',
      'APP before run',
    ]);
  }, 90_000);
});
