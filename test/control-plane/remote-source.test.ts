import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/control-plane/index.js';
import { z } from '../../src/index.js';
import { RemoteControl } from '../../src/lifecycle/index.js';
import { GATEHOUSE_FIELDS } from '../../src/lifecycle/internal.js';
import { makePortal, tempDir } from '../helpers.js';

const ADMIN = 'admin-token-for-tests-0123456789';
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
/** Short client intervals; the version check stays on (this control plane serves a gatehouse entry). */
const FAST = {
  heartbeatIntervalMs: 200,
  reconnectDelayMs: 20,
  maxReconnectDelayMs: 100,
  pollIntervalMs: 50,
  connectTimeoutMs: 2000,
  env: {},
};

async function until(check: () => boolean | Promise<boolean>, what: string, ms: number): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}

describe('ControlPlane with the gatehouse remote lifecycle source', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function controlPlane(): Promise<{ cp: ControlPlane; wsUrl: string; token: string }> {
    const { dir, cleanup } = tempDir('gatehouse-cp-remote-');
    const cp = new ControlPlane({ dataDir: dir, adminToken: ADMIN, heartbeatIntervalMs: 200 });
    cleanups.push(cleanup, () => cp.close());
    await cp.run({ port: 0, handleSignals: false });
    const { token } = await cp.createProject({ name: 'notes', failMode: 'closed' });
    return { cp, wsUrl: `ws://127.0.0.1:${cp.port}`, token };
  }

  it('sends every gatehouse extra field the remote client reads', async () => {
    const { cp } = await controlPlane();
    const wire = cp.status('notes') as unknown as Record<string, unknown>;
    for (const field of Object.values(GATEHOUSE_FIELDS)) expect(wire).toHaveProperty(field);
  });

  it('gates a portal following the project within 1 s of each change, MAINTENANCE with its message and Retry-After', async () => {
    const { cp, wsUrl, token } = await controlPlane();
    const made = makePortal({
      lifecycle: { source: 'remote', remote: { token, wsUrl, environment: 'staging', ...FAST } },
    });
    made.portal.endpoint(
      '/api/work',
      { method: 'GET', description: 'work', input: z.object({}), gate: { auth: 'none' } },
      () => ({ ok: true }),
    );
    cleanups.push(made.stop);
    await made.start();
    const work = async (): Promise<Response> => fetch(made.url('/api/work'));
    await until(async () => (await work()).status === 200, 'the portal to pass traffic', 5000);

    await cp.setStatus('notes', 'PAUSED', { message: 'Invoice due' });
    expect(await until(async () => (await work()).status === 503, 'PAUSED to gate', 1000)).toBeLessThan(1000);
    expect(await (await work()).json()).toMatchObject({ code: 'SERVICE_PAUSED', detail: 'Invoice due' });
    expect((await fetch(made.url('/health'))).status).toBe(200);

    await cp.setStatus('notes', 'MAINTENANCE', { message: 'Back at 10:00', retryAfterSec: 600 });
    await until(() => made.portal.lifecycle.status === 'MAINTENANCE', 'MAINTENANCE', 1000);
    const r = await work();
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('600');
    expect(await r.json()).toMatchObject({ code: 'SERVICE_MAINTENANCE', detail: 'Back at 10:00' });

    await cp.setStatus('notes', 'FAILED', { message: 'Disk full' });
    await until(
      async () => ((await (await work()).json()) as { code?: string }).code === 'SERVICE_FAILED',
      'FAILED',
      1000,
    );

    await cp.setStatus('notes', 'ACTIVE');
    expect(await until(async () => (await work()).status === 200, 'ACTIVE to pass', 1000)).toBeLessThan(1000);

    // The portal is an instance with gatehouse's version, node and the environment it was given.
    await until(() => cp.instances('notes').some((i) => i.env === 'staging'), 'a heartbeat', 3000);
    expect(cp.instances('notes')).toEqual([
      expect.objectContaining({ language: 'node', sdkVersion: VERSION, env: 'staging', connected: true, stale: false }),
    ]);
  });

  it('a RemoteControl (workers, scripts) follows status and fail mode, and goes OFFLINE for good when its token is revoked', async () => {
    const { cp, wsUrl, token } = await controlPlane();
    const { dir, cleanup } = tempDir('gatehouse-cp-remote-px-');
    cleanups.push(cleanup);
    const px = new RemoteControl({ token, wsUrl, dataDir: dir, ...FAST });
    cleanups.push(() => px.close());
    const seen: string[] = [];
    px.onStatus((next) => seen.push(next));
    await until(() => px.isActive(), 'ACTIVE', 5000);
    await cp.setFailMode('notes', 'open');
    await until(() => px.failMode === 'open', 'fail mode open', 1000);
    await cp.setStatus('notes', 'PAUSED', { message: 'Invoice due' });
    await until(() => px.status === 'PAUSED', 'PAUSED', 1000);
    expect(px.pauseMessage).toBe('Invoice due');
    await cp.setStatus('notes', 'ACTIVE');
    await until(() => px.isActive(), 'ACTIVE again', 1000);
    await cp.revokeToken(token);
    await until(() => px.status === 'OFFLINE', 'OFFLINE after revoke', 1000);
    // Revoked is final: nothing brings it back, and it made no further connections.
    await new Promise((r) => setTimeout(r, 300));
    expect(px.status).toBe('OFFLINE');
    expect(cp.instances('notes').filter((i) => i.connected)).toEqual([]);
    expect(seen).toEqual(expect.arrayContaining(['PAUSED', 'ACTIVE', 'OFFLINE']));
  });

  it('a portal in closed fail mode goes OFFLINE when the control plane goes away', async () => {
    const { cp, wsUrl, token } = await controlPlane();
    const made = makePortal({
      lifecycle: { source: 'remote', remote: { token, wsUrl, disablePollFallback: true, ...FAST } },
    });
    cleanups.push(made.stop);
    await made.start();
    await until(() => made.portal.lifecycle.status === 'ACTIVE', 'ACTIVE', 5000);
    await cp.close();
    await until(() => made.portal.lifecycle.status === 'OFFLINE', 'OFFLINE once the socket is lost', 3000);
  });
});
