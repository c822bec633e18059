import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Fixture } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/close-child.ts', import.meta.url));

/** Run the child; resolves with its stdout lines and exit code, or rejects if it has not exited `graceMs` after printing `closed`. */
function runChild(
  env: Record<string, string>,
  graceMs = 5000,
): Promise<{ lines: string[]; code: number | null; lingeredMs: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let closedAt = 0;
    let killer: NodeJS.Timeout | undefined;
    const overall = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`child did not finish; stdout=${out} stderr=${err}`));
    }, 30_000);
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (!closedAt && out.includes('closed\n')) {
        closedAt = Date.now();
        killer = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`child still alive ${graceMs} ms after close(): a handle was left; stdout=${out}`));
        }, graceMs);
      }
    });
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    proc.on('exit', (code) => {
      clearTimeout(overall);
      clearTimeout(killer);
      if (!closedAt) return reject(new Error(`child exited (${code}) before closing; stdout=${out} stderr=${err}`));
      resolve({ lines: out.trim().split('\n'), code, lingeredMs: Date.now() - closedAt });
    });
  });
}

describe('RemoteControl close()', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  const env = (fx: Fixture, mode: string): Record<string, string> => ({
    CHILD_MODE: mode,
    PX_TOKEN: fx.token,
    PX_WS_URL: fx.server.wsUrl,
    PX_DATA_DIR: fx.dir,
    PX_ENV: 'test',
  });

  it('leaves no handle: a connected process exits by itself after close (version check on)', async () => {
    f = await new Fixture().start({ status: 'PAUSED', fail_mode: 'closed' });
    const r = await runChild(env(f, 'shared'));
    expect(r.lines).toEqual(['ready PAUSED connected=true polling=false', 'closed']);
    expect(r.code).toBe(0);
    expect(f.server.catalogueHits()).toBe(1);
    expect(f.server.heartbeats(f.token).length).toBeGreaterThanOrEqual(1);
  });

  it('leaves no handle while polling and reconnecting', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    f.server.refuseUpgrades = 503;
    const r = await runChild(env(f, 'polling'));
    expect(r.lines).toEqual(['ready ACTIVE connected=false polling=true', 'closed']);
    expect(r.code).toBe(0);
    expect(f.server.polls(f.token)).toBeGreaterThanOrEqual(1);
  });

  it('leaves no handle after portal.close() with the remote source', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const r = await runChild(env(f, 'portal'));
    expect(r.lines).toEqual(['ready ACTIVE', 'closed']);
    expect(r.code).toBe(0);
  });
});
