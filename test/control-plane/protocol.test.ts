import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/control-plane/index.js';
import { tempDir } from '../helpers.js';
import { PxClient } from './px-client.js';

const ADMIN = 'admin-token-for-tests-0123456789';

describe('ControlPlane protocol', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function start(
    options: ConstructorParameters<typeof ControlPlane>[0] = {},
  ): Promise<{ cp: ControlPlane; base: string; dir: string }> {
    const { dir, cleanup } = tempDir('gatehouse-cp-');
    const cp = new ControlPlane({ dataDir: dir, adminToken: ADMIN, ...options });
    cleanups.push(cleanup, () => cp.close());
    await cp.run({ port: 0, handleSignals: false });
    return { cp, base: `http://127.0.0.1:${cp.port}`, dir };
  }

  function track(c: PxClient): PxClient {
    cleanups.push(() => c.close());
    return c;
  }

  it('sends a status frame on open with the PXControl fields and a px_ token that is stored only hashed', async () => {
    const { cp, base, dir } = await start();
    const { token } = await cp.createProject({ name: 'notes', failMode: 'closed' });
    expect(token).toMatch(/^px_[A-Za-z0-9_-]{43}$/);
    const client = track(await PxClient.connect(base, token));
    const first = await client.next((f) => f.type === 'status');
    expect(first).toMatchObject({
      type: 'status',
      status: 'ACTIVE',
      fail_mode: 'closed',
      gatehouse_status: 'ACTIVE',
      project: 'notes',
      retry_after_sec: null,
    });
    expect(typeof first.pause_message).toBe('string');
    expect(typeof first.offline_message).toBe('string');
    await cp.close();
    const file = readFileSync(join(dir, 'gatehouse-control.db')).toString('latin1');
    expect(file).not.toContain(token);
    expect(file).not.toContain(token.slice(3, 30));
  });

  it('pushes every status change to every socket of the project within 500 ms, and none to other projects', async () => {
    const { cp, base } = await start();
    const { token } = await cp.createProject({ name: 'notes' });
    const other = await cp.createProject({ name: 'billing' });
    const clients = await Promise.all(Array.from({ length: 5 }, () => PxClient.connect(base, token).then(track)));
    const bystander = track(await PxClient.connect(base, other.token));
    await Promise.all([...clients, bystander].map((c) => c.status('ACTIVE')));
    const t0 = performance.now();
    await cp.setStatus('notes', 'PAUSED', { message: 'Invoice due' });
    const frames = await Promise.all(clients.map((c) => c.status('PAUSED', { timeoutMs: 500 })));
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(500);
    for (const f of frames)
      expect(f).toMatchObject({
        status: 'PAUSED',
        pause_message: 'Invoice due',
        message: 'Invoice due',
        gatehouse_status: 'PAUSED',
      });
    await new Promise((r) => setTimeout(r, 100));
    expect(bystander.frames.filter((f) => f.type === 'status').map((f) => f.status)).toEqual(['ACTIVE']);

    await cp.setStatus('notes', 'OFFLINE', { message: 'Gone fishing', retryAfterSec: 120 });
    const offline = await clients[0]!.status('OFFLINE');
    expect(offline).toMatchObject({
      offline_message: 'Gone fishing',
      retry_after_sec: 120,
      pause_message: 'Invoice due',
    });
    await cp.setFailMode('notes', 'open');
    const open = await clients[0]!.next((f) => f.type === 'status' && f.fail_mode === 'open');
    expect(open.status).toBe('OFFLINE');
  });

  it('sends MAINTENANCE to stock SDKs as PAUSED with the maintenance message, and the real state in gatehouse fields', async () => {
    const { cp, base } = await start();
    const { token } = await cp.createProject({ name: 'notes' });
    await cp.setStatus('notes', 'PAUSED', { message: 'Invoice due' });
    const client = track(await PxClient.connect(base, token));
    await client.status('PAUSED');
    await cp.setStatus('notes', 'MAINTENANCE', { message: 'Back at 10:00', retryAfterSec: 600 });
    const frame = await client.next((f) => f.type === 'status' && f.gatehouse_status === 'MAINTENANCE');
    expect(frame).toMatchObject({
      status: 'PAUSED',
      pause_message: 'Back at 10:00',
      maintenance_message: 'Back at 10:00',
      message: 'Back at 10:00',
      retry_after_sec: 600,
    });
    // The pause message of PAUSED itself is kept for the next pause.
    await cp.setStatus('notes', 'PAUSED');
    expect(
      await client.next((f) => f.type === 'status' && f.gatehouse_status === 'PAUSED' && f.retry_after_sec === null),
    ).toMatchObject({ pause_message: 'Invoice due' });
  });

  it('turns heartbeats into instances with SDK version, language, env and last seen, stale after 3 intervals', async () => {
    const { cp, base } = await start({ heartbeatIntervalMs: 100 });
    const { token } = await cp.createProject({ name: 'notes' });
    const client = track(await PxClient.connect(base, token, 'pxcontrol-python/0.1.2'));
    await client.status('ACTIVE');
    const [before] = cp.instances('notes');
    expect(before).toMatchObject({ sdkVersion: '0.1.2', language: 'python', env: null, connected: true, stale: false });
    client.heartbeat({ sdk_version: '0.1.3', language: 'node', env: 'staging' });
    await expect.poll(() => cp.instances('notes')[0]?.env, { timeout: 1000 }).toBe('staging');
    const [after] = cp.instances('notes');
    expect(after).toMatchObject({
      id: before!.id,
      sdkVersion: '0.1.3',
      language: 'node',
      env: 'staging',
      connected: true,
    });
    expect(after!.lastSeenAt).toBeGreaterThanOrEqual(before!.lastSeenAt);
    await expect.poll(() => cp.instances('notes')[0]?.stale, { timeout: 2000, interval: 50 }).toBe(true);
    client.heartbeat();
    await expect.poll(() => cp.instances('notes')[0]?.stale, { timeout: 1000 }).toBe(false);
    client.close();
    await expect.poll(() => cp.instances('notes')[0]?.connected, { timeout: 1000 }).toBe(false);
    expect(cp.instances('notes')).toHaveLength(1);
  });

  it('ignores unknown message types, and closes a socket that sends a non-JSON frame with one error frame and 1008', async () => {
    const { cp, base } = await start();
    const { token } = await cp.createProject({ name: 'notes' });
    const client = track(await PxClient.connect(base, token));
    await client.status('ACTIVE');
    client.ws.send(JSON.stringify({ type: 'something-new', x: 1 }));
    client.heartbeat({ env: 'after' });
    await expect.poll(() => cp.instances('notes')[0]?.env, { timeout: 1000 }).toBe('after');
    client.ws.send('not json');
    client.ws.send('not json either');
    expect(await client.closed).toEqual({ code: 1008, reason: 'invalid frame' });
    expect(client.frames.filter((f) => f.type === 'error')).toEqual([
      { type: 'error', code: 'bad_message', message: 'a message must be a JSON object' },
    ]);
    await expect.poll(() => cp.instances('notes')[0]?.connected, { timeout: 1000 }).toBe(false);
    expect(cp.project('notes')?.state).toBe('ACTIVE');
  });

  it('serves the poll fallback: 200 with the status object, 401 for an unknown token, 403 once revoked', async () => {
    const { cp, base } = await start();
    const { token } = await cp.createProject({ name: 'notes' });
    await cp.setStatus('notes', 'FAILED', { message: 'Disk full' });
    const ok = await fetch(`${base}/api/v1/status/${token}`, { headers: { 'User-Agent': 'pxcontrol-sdk-node/0.1.3' } });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'FAILED',
      offline_message: 'Disk full',
      fail_mode: 'closed',
      gatehouse_status: 'FAILED',
    });
    expect(body).not.toHaveProperty('type');
    expect((await fetch(`${base}/api/v1/status/px_${'a'.repeat(43)}`)).status).toBe(401);
    expect((await fetch(`${base}/api/v1/status/nonsense`)).status).toBe(401);
    await cp.revokeToken(token);
    expect((await fetch(`${base}/api/v1/status/${token}`)).status).toBe(403);
  });

  it("serves the version catalogue with node and python entries as configured, and gatehouse at this package's version", async () => {
    const { base } = await start({
      sdkVersions: {
        node: { latest: '0.2.0', minimumSupported: '0.1.3' },
        python: { latest: '0.1.4', changelogUrl: 'https://example.com/changes' },
      },
    });
    const res = await fetch(`${base}/api/v1/sdk/versions`);
    expect(res.status).toBe(200);
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    expect(await res.json()).toEqual({
      node: { latest: '0.2.0', minimum_supported: '0.1.3', changelog_url: null },
      python: { latest: '0.1.4', minimum_supported: '0.1.4', changelog_url: 'https://example.com/changes' },
      gatehouse: { latest: version, minimum_supported: version, changelog_url: null },
    });
  });

  it('on revoke sends a revoked frame and closes with 4002; a revoked token is refused the same way on reconnect', async () => {
    const { cp, base } = await start();
    const { token } = await cp.createProject({ name: 'notes' });
    const client = track(await PxClient.connect(base, token));
    await client.status('ACTIVE');
    await cp.revokeToken(token);
    expect(await client.next((f) => f.type === 'revoked')).toMatchObject({ reason: 'token revoked' });
    expect((await client.closed).code).toBe(4002);
    const again = track(await PxClient.connect(base, token));
    expect((await again.closed).code).toBe(4002);
    expect(again.frames).toEqual([{ type: 'revoked', reason: 'token revoked' }]);
    expect(cp.project('notes')?.tokens[0]?.revokedAt).toBeTypeOf('number');
  });

  it('on rotate revokes the old token (4002, token rotated) and the new one connects', async () => {
    const { cp, base } = await start();
    const { token } = await cp.createProject({ name: 'notes' });
    const old = track(await PxClient.connect(base, token));
    await old.status('ACTIVE');
    const { token: fresh } = await cp.rotateToken('notes');
    expect(fresh).not.toBe(token);
    expect(await old.next((f) => f.type === 'revoked')).toMatchObject({ reason: 'token rotated' });
    expect((await old.closed).code).toBe(4002);
    const next = track(await PxClient.connect(base, fresh));
    expect(await next.status('ACTIVE')).toMatchObject({ project: 'notes' });
    expect((await fetch(`${base}/api/v1/status/${token}`)).status).toBe(403);
    expect((await fetch(`${base}/api/v1/status/${fresh}`)).status).toBe(200);
  });

  it('closes a socket with an unknown or malformed token with 4001, and sends nothing', async () => {
    const { cp, base } = await start();
    await cp.createProject({ name: 'notes' });
    for (const bad of [`px_${'b'.repeat(43)}`, 'hello', '%E0%A4%A']) {
      const client = track(await PxClient.connect(base, bad));
      expect((await client.closed).code).toBe(4001);
      expect(client.frames).toEqual([]);
    }
    expect(cp.instances('notes')).toEqual([]);
  });

  it('refuses an upgrade on any other path with 404', async () => {
    const { base } = await start();
    const err = await PxClient.connect(base.replace(/\/?$/, '/nope'), 'x').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/404/);
  });

  it('keeps projects and tokens across a restart on the same dataDir', async () => {
    const { dir, cleanup } = tempDir('gatehouse-cp-');
    cleanups.push(cleanup);
    const first = new ControlPlane({ dataDir: dir, adminToken: ADMIN });
    const { token } = await first.createProject({ name: 'notes', failMode: 'open' });
    await first.setStatus('notes', 'PAUSED', { message: 'Later' });
    await first.close();
    const second = new ControlPlane({ dataDir: dir, adminToken: ADMIN });
    cleanups.push(() => second.close());
    await second.run({ port: 0, handleSignals: false });
    const client = track(await PxClient.connect(`http://127.0.0.1:${second.port}`, token));
    expect(await client.status('PAUSED')).toMatchObject({ pause_message: 'Later', fail_mode: 'open' });
    const entries = await second.auditLog({ project: 'notes' });
    expect(entries.map((e) => [e.action, e.from, e.to])).toEqual([
      ['status', 'ACTIVE', 'PAUSED'],
      ['project.create', null, 'ACTIVE, fail mode open'],
    ]);
  });

  it('rejects bad input to its methods with ERR_CONTROL_INPUT and changes nothing', async () => {
    const { cp } = await start();
    await cp.createProject({ name: 'notes' });
    await expect(cp.createProject({ name: 'notes' })).rejects.toMatchObject({ code: 'ERR_CONTROL_CONFLICT' });
    await expect(cp.createProject({ name: '../etc' })).rejects.toMatchObject({ code: 'ERR_CONTROL_INPUT' });
    await expect(cp.setStatus('notes', 'SLEEPING' as never)).rejects.toMatchObject({ code: 'ERR_CONTROL_INPUT' });
    await expect(cp.setStatus('notes', 'PAUSED', { retryAfterSec: -1 })).rejects.toMatchObject({
      code: 'ERR_CONTROL_INPUT',
    });
    await expect(cp.setStatus('notes', 'PAUSED', { message: 'x'.repeat(1001) })).rejects.toMatchObject({
      code: 'ERR_CONTROL_INPUT',
    });
    await expect(cp.setStatus('ghost', 'PAUSED')).rejects.toMatchObject({ code: 'ERR_CONTROL_NOT_FOUND' });
    await expect(cp.revokeToken(`px_${'c'.repeat(43)}`)).rejects.toMatchObject({ code: 'ERR_CONTROL_NOT_FOUND' });
    expect(cp.projects().map((p) => [p.name, p.state])).toEqual([['notes', 'ACTIVE']]);
    expect((await cp.auditLog()).length).toBe(1);
    expect(() => new ControlPlane({ adminToken: 'short' })).toThrow(/adminToken/);
    expect(() => new ControlPlane({ adminToken: 'x'.repeat(31) })).toThrow(/adminToken.*32 to 512/);
  });
});
