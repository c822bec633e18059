import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { json, startServer, type TestServer } from './helpers.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
});

describe('module default client', () => {
  it('does not keep the process alive after a request (idle keep-alive socket is unref-ed)', async () => {
    s = await startServer((_req, res) => json(res, 200, { hi: 1 }, { 'keep-alive': 'timeout=60' }));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./keepalive-child.ts', import.meta.url)), `${s.url}/x`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let printedAt = 0;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      printedAt ||= performance.now();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(killer);
    const exitedAt = performance.now();
    expect(JSON.parse(out)).toEqual({ ok: true, status: 200 });
    expect(code).toBe(0);
    // A ref-ed pooled socket would hold the child for the 4 s keep-alive timeout.
    expect(exitedAt - printedAt).toBeLessThan(2000);
    expect(s.seen).toHaveLength(1);
  });
});
