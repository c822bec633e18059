import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { ControlPlane } from '../../src/control-plane/index.js';
import { tempDir } from '../helpers.js';
import { PxClient } from './px-client.js';

const ADMIN = 'admin-token-for-tests-0123456789';

function capture(): { io: { out: (t: string) => void; err: (t: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t) }, out, err };
}

describe('gatehouse control-plane', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function dataDir(): string {
    const { dir, cleanup } = tempDir('gatehouse-cp-cli-');
    cleanups.push(cleanup);
    return dir;
  }

  it('project add prints the token once; project status changes the state; a running control plane pushes it within 1 s', async () => {
    const dir = dataDir();
    const add = capture();
    expect(await main(['control-plane', 'project', 'add', 'notes', '--data-dir', dir], add.io)).toBe(0);
    const token = add.out.join('\n').match(/px_[A-Za-z0-9_-]{43}/)?.[0];
    expect(token).toBeDefined();

    const cp = new ControlPlane({ dataDir: dir, adminToken: ADMIN });
    cleanups.push(() => cp.close());
    await cp.run({ port: 0, handleSignals: false });
    const client = await PxClient.connect(`http://127.0.0.1:${cp.port}`, token!);
    cleanups.push(() => client.close());
    await client.status('ACTIVE');

    // The CLI in another process writes the store; the running control plane notices the commit and pushes it.
    const child = spawn(
      process.execPath,
      [
        'bin/gatehouse.js',
        'control-plane',
        'project',
        'status',
        'notes',
        'paused',
        '--message',
        'Invoice due',
        '--data-dir',
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(stdout).toContain('project notes set to PAUSED (Invoice due)');
    // Within 1 s of the CLI exiting (the frame may already be there).
    const frame = await client.status('PAUSED', { timeoutMs: 1000 });
    expect(frame).toMatchObject({ pause_message: 'Invoice due' });
    expect((await cp.auditLog({ limit: 1 }))[0]).toMatchObject({
      action: 'status',
      from: 'ACTIVE',
      to: 'PAUSED',
      actor: expect.stringMatching(/^cli pid \d+$/),
    });
  }, 30_000);

  it('refuses bad arguments with exit 2 and writes nothing', async () => {
    const dir = dataDir();
    expect(await main(['control-plane', 'project', 'add', 'notes', '--data-dir', dir], capture().io)).toBe(0);
    const cases: string[][] = [
      ['control-plane', 'project', 'status', 'notes', 'SLEEPING', '--data-dir', dir],
      ['control-plane', 'project', 'status', 'notes', 'PAUSED', '--retry-after', '-3', '--data-dir', dir],
      ['control-plane', 'project', 'status', 'notes', '--data-dir', dir],
      ['control-plane', 'project', 'status', 'ghost', 'PAUSED', '--data-dir', dir],
      ['control-plane', 'project', 'add', 'notes', '--data-dir', dir],
      ['control-plane', 'project', 'add', 'bad/name', '--data-dir', dir],
      ['control-plane', 'project', 'add', 'x', '--fail-mode', 'maybe', '--data-dir', dir],
      ['control-plane', 'project', 'frobnicate', '--data-dir', dir],
      ['control-plane', 'project', 'add', 'y', '--bogus', '--data-dir', dir],
    ];
    for (const argv of cases) {
      const c = capture();
      expect(await main(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err.join('\n')).toMatch(/gatehouse control-plane: /);
    }
    const list = capture();
    expect(await main(['control-plane', 'project', 'list', '--json', '--data-dir', dir], list.io)).toBe(0);
    expect(JSON.parse(list.out[0]!)).toEqual([{ name: 'notes', state: 'ACTIVE', failMode: 'closed', message: null }]);
  });

  it('gatehouse control-plane serves the protocol and the dashboard, with a generated admin token kept in dataDir (0600), and stops on SIGTERM', async () => {
    const dir = dataDir();
    const env = { ...process.env, GATEHOUSE_CONTROL_TOKEN: '' };
    const child = spawn(process.execPath, ['bin/gatehouse.js', 'control-plane', '--port', '0', '--data-dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no start line: ${out}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    const file = join(dir, 'control-admin-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const admin = readFileSync(file, 'utf8').trim();
    expect((await fetch(`${url}/api/v1/sdk/versions`)).status).toBe(200);
    expect(await (await fetch(`${url}/`)).text()).toContain('Admin token');
    expect((await fetch(`${url}/api/admin/projects`)).status).toBe(401);
    const created = await fetch(`${url}/api/admin/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'svc' }),
    });
    expect(created.status).toBe(201);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
  }, 30_000);
});
