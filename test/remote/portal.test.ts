import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z, type LifecycleOptions, type ServicePortal } from '../../src/index.js';
import { RemoteControl, remoteControl, type RemoteControlOptions } from '../../src/lifecycle/index.js';
import { stateFileName } from '../../src/lifecycle/internal.js';
import { makePortal } from '../helpers.js';
import { FAST, Fixture, sleep, waitFor } from './helpers.js';

interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  json(): unknown;
}

type Get = (path: string) => Promise<Answer>;

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return { statusCode: res.status, headers: Object.fromEntries(res.headers), json: () => JSON.parse(text) as unknown };
}

async function portalOn(
  f: Fixture,
  lifecycle: Partial<LifecycleOptions> = {},
  dataDir?: string,
  remote: RemoteControlOptions = {},
): Promise<{ portal: ServicePortal; calls: () => number; get: Get }> {
  const made = makePortal({
    ...(dataDir ? { dataDir } : {}),
    lifecycle: {
      source: 'remote',
      remote: { token: f.token, wsUrl: f.server.wsUrl, env: {}, ...FAST, ...remote },
      ...lifecycle,
    },
  });
  let n = 0;
  made.portal.endpoint(
    '/api/work',
    { method: 'GET', description: 'test route', input: z.object({}), gate: { auth: 'none' } },
    () => {
      n++;
      return { ok: true };
    },
  );
  f.onCleanup(made.stop);
  await made.start();
  return { portal: made.portal, calls: () => n, get: async (path) => answer(await fetch(made.url(path))) };
}

describe('ServicePortal with lifecycle source remote', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('gates a route within 500 ms of a status push, with the pause message, and lets it through again on ACTIVE', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const { portal, calls, get } = await portalOn(f);
    await waitFor(() => portal.lifecycle.status === 'ACTIVE', 'portal ACTIVE');
    expect((await get('/api/work')).statusCode).toBe(200);
    const pushed = Date.now();
    f.server.setStatus(f.token, { status: 'PAUSED', pause_message: 'Invoice due' });
    let r = await get('/api/work');
    while (r.statusCode === 200 && Date.now() - pushed < 2000) r = await get('/api/work');
    expect(Date.now() - pushed).toBeLessThan(500);
    expect(r.statusCode).toBe(503);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.headers['retry-after']).toBe('60');
    expect(r.json()).toMatchObject({ status: 503, code: 'SERVICE_PAUSED', detail: 'Invoice due' });
    expect((await get('/health')).statusCode).toBe(200);
    const before = calls();
    f.server.setStatus(f.token, { status: 'ACTIVE' });
    await waitFor(() => portal.lifecycle.status === 'ACTIVE', 'ACTIVE again', 500);
    expect((await get('/api/work')).statusCode).toBe(200);
    expect(calls()).toBe(before + 1);
  });

  it('reports the connection in /status as the remote check: OK connected, RED without contact in closed mode', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const { portal, get } = await portalOn(f, {}, undefined, { disablePollFallback: true });
    await waitFor(() => portal.lifecycle.status === 'ACTIVE', 'ACTIVE');
    let s = (await get('/status')).json() as {
      status: string;
      checks: Record<string, { state: string; detail: string }>;
    };
    expect(s.checks.remote).toEqual({ state: 'OK', detail: 'connected; ACTIVE, fail mode closed' });
    f.server.refuseUpgrades = 503;
    f.server.dropAll();
    await waitFor(() => portal.lifecycle.status === 'OFFLINE', 'OFFLINE');
    const r = await get('/status');
    expect(r.statusCode).toBe(200);
    s = r.json() as typeof s;
    expect(s.status).toBe('RED');
    expect(s.checks.remote).toEqual({ state: 'RED', detail: 'no contact; fail mode closed, gating as OFFLINE' });
  });

  it('answers OFFLINE and FAILED with the offline message, MAINTENANCE with its message and Retry-After, and PAUSED 402 through statusCodes', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed', offline_message: 'Down for now' });
    const { portal, get } = await portalOn(f, { statusCodes: { PAUSED: 402 } });
    await waitFor(() => portal.lifecycle.status === 'ACTIVE', 'portal ACTIVE');
    for (const status of ['OFFLINE', 'FAILED'] as const) {
      f.server.setStatus(f.token, { status });
      await waitFor(() => portal.lifecycle.status === status, status);
      const r = await get('/api/work');
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({ code: `SERVICE_${status}`, detail: 'Down for now' });
    }
    f.server.setStatus(f.token, {
      status: 'PAUSED',
      gatehouse_status: 'MAINTENANCE',
      maintenance_message: 'Back at 10:00',
      retry_after_sec: 600,
    });
    await waitFor(() => portal.lifecycle.status === 'MAINTENANCE', 'MAINTENANCE');
    let r = await get('/api/work');
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('600');
    expect(r.json()).toMatchObject({ code: 'SERVICE_MAINTENANCE', detail: 'Back at 10:00' });
    f.server.setStatus(f.token, {
      status: 'PAUSED',
      gatehouse_status: null,
      pause_message: 'Invoice due',
      retry_after_sec: null,
    });
    await waitFor(() => portal.lifecycle.status === 'PAUSED', 'PAUSED');
    r = await get('/api/work');
    expect(r.statusCode).toBe(402);
    expect(r.headers['retry-after']).toBe('60');
    expect(r.json()).toMatchObject({ status: 402, code: 'SERVICE_PAUSED', detail: 'Invoice due' });
  });

  it('ignores malformed frames: the gated answer and the state stay as they were', async () => {
    f = await new Fixture().start({ status: 'PAUSED', fail_mode: 'closed', pause_message: 'Invoice due' });
    const { portal, calls, get } = await portalOn(f);
    await waitFor(() => portal.lifecycle.status === 'PAUSED', 'PAUSED');
    for (const frame of [
      '{{',
      '[]',
      JSON.stringify({ type: 'status', status: 'UNKNOWN' }),
      JSON.stringify({ type: 'status', status: 'ACTIVE', x: 'y'.repeat(100_000) }),
    ])
      f.server.sendTo(f.token, frame);
    // A marker behind the bad frames: once its Retry-After shows, every frame before it was handled.
    f.server.sendTo(f.token, JSON.stringify({ type: 'status', retry_after_sec: 7 }));
    await waitFor(() => portal.lifecycle.snapshot.retryAfterSec === 7, 'the marker frame');
    const r = await get('/api/work');
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('7');
    expect(f.server.connections(f.token)).toBe(1);
    expect(r.json()).toMatchObject({ code: 'SERVICE_PAUSED', detail: 'Invoice due' });
    expect(portal.lifecycle.status).toBe('PAUSED');
    expect(calls()).toBe(0);
  });

  it('starts from the persisted state when restarted during an outage (open mode), and persists nothing secret', async () => {
    f = await new Fixture().start({
      status: 'PAUSED',
      fail_mode: 'open',
      pause_message: 'Invoice due',
      offline_message: 'Away',
    });
    const first = await portalOn(f);
    await waitFor(() => first.portal.lifecycle.status === 'PAUSED', 'PAUSED');
    await first.portal.close();
    const file = join(first.portal.dataDir, stateFileName(f.token));
    await waitFor(() => existsSync(file), 'state file');
    const stored = readFileSync(file, 'utf8');
    expect(JSON.parse(stored)).toMatchObject({
      status: 'PAUSED',
      failMode: 'open',
      pauseMessage: 'Invoice due',
      offlineMessage: 'Away',
    });
    expect(stored).not.toContain(f.token);

    // Outage: the control plane is gone. A new portal on the same dataDir starts PAUSED and stays PAUSED.
    await f.server.close();
    const made = await portalOn(f, {}, first.portal.dataDir);
    expect(made.portal.lifecycle.status).toBe('PAUSED');
    await sleep(300); // many failed reconnects and polls
    expect(made.portal.lifecycle.status).toBe('PAUSED');
    const r = await made.get('/api/work');
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ code: 'SERVICE_PAUSED', detail: 'Invoice due' });
  });

  it('restarted during an outage in closed mode: persisted state until the first attempt fails, then OFFLINE; nothing known: OFFLINE from the start', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed', offline_message: 'Away' });
    const first = f.control();
    await waitFor(() => first.status === 'ACTIVE', 'ACTIVE');
    await first.close();
    await f.server.close();
    const again = f.control({ reconnectDelayMs: 200, maxReconnectDelayMs: 400 });
    expect(again.status).toBe('ACTIVE');
    expect(again.failMode).toBe('closed');
    await waitFor(() => again.status === 'OFFLINE', 'OFFLINE after the first failed attempt');
    expect(again.message).toBe('Away');
    const fresh = f.control({ dataDir: join(f.dir, 'fresh') });
    expect(fresh.status).toBe('OFFLINE');
    // Until the first attempt has had its chance, the message says so; then that the control is unreachable.
    expect(fresh.message).toBe('The service is starting: waiting for its remote control.');
    await waitFor(() => fresh.message !== 'The service is starting: waiting for its remote control.', 'first failure');
    expect(fresh.status).toBe('OFFLINE');
    expect(fresh.message).toBe('The service is offline: its remote control cannot be reached.');
  });

  it('closes its RemoteControl with the portal but not one it was handed', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const shared = f.control();
    const made = makePortal({ lifecycle: { source: 'remote', remote: shared } });
    await waitFor(() => made.portal.lifecycle.status === 'ACTIVE', 'ACTIVE');
    expect(made.portal.lifecycle.snapshot.source).toBe('remote');
    await made.stop();
    expect(shared.connected).toBe(true);
    const own = await portalOn(f);
    await waitFor(() => f!.server.connections(f!.token) === 2, 'two sockets');
    await own.portal.close();
    await waitFor(() => f!.server.connections(f!.token) === 1, 'the portal closed its own socket');
  });
});

describe('remoteControl() middleware', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('gates a plain express app on the same client, health path open, 402 with the stock body on request', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed', pause_message: 'Invoice due' });
    const px = f.control();
    const app = express();
    app.use(remoteControl({ control: px, statusCodes: { PAUSED: 402 }, body: 'pxcontrol' }));
    app.get('/health', (_req, res) => res.json({ status: 'ok' }));
    app.get('/work', (_req, res) => res.json({ ok: true }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    f.onCleanup(() => new Promise<void>((r) => server.close(() => r())));
    const url = (p: string): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}${p}`;
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    expect((await fetch(url('/work'))).status).toBe(200);
    f.server.setStatus(f.token, { status: 'PAUSED' });
    await waitFor(() => px.status === 'PAUSED', 'PAUSED');
    const r = await fetch(url('/work?x=1'));
    expect(r.status).toBe(402);
    expect(r.headers.get('retry-after')).toBe('60');
    expect(await r.json()).toEqual({ error: 'payment_required', status: 'PAUSED', message: 'Invoice due' });
    expect((await fetch(url('/health?probe=1'))).status).toBe(200);
    f.server.setStatus(f.token, { status: 'FAILED', offline_message: 'Broken' });
    await waitFor(() => px.status === 'FAILED', 'FAILED');
    const failed = await fetch(url('/work'));
    expect(failed.status).toBe(503);
    expect(await failed.json()).toEqual({ error: 'service_unavailable', status: 'FAILED', message: 'Broken' });
  });

  it('answers problem+json by default', async () => {
    f = await new Fixture().start({ status: 'OFFLINE', fail_mode: 'closed', offline_message: 'Off' });
    const px = f.control();
    const app = express();
    app.use(remoteControl({ control: px }));
    app.get('/work', (_req, res) => res.json({ ok: true }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    f.onCleanup(() => new Promise<void>((r) => server.close(() => r())));
    await waitFor(() => px.inContact, 'contact');
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/work`);
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await r.json()).toEqual({
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      detail: 'Off',
      code: 'SERVICE_OFFLINE',
      state: 'OFFLINE',
    });
  });
});

describe('RemoteControl.shared()', () => {
  const saved: Record<string, string | undefined> = {};
  const setEnv = (vars: Record<string, string>): void => {
    for (const [k, v] of Object.entries(vars)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  };
  let f: Fixture | undefined;
  afterEach(async () => {
    await RemoteControl.resetShared();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await f?.close();
    f = undefined;
  });

  it('reads PX_* from the environment and is one per process until closed', async () => {
    f = await new Fixture().start({ status: 'PAUSED', fail_mode: 'open', pause_message: 'From env' });
    setEnv({
      PX_TOKEN: f.token,
      PX_WS_URL: f.server.wsUrl,
      PX_ENV: 'staging',
      PX_DISABLE_VERSION_CHECK: '1',
      PX_DISABLE_POLL: 'true',
      PX_DATA_DIR: f.dir,
      PX_DEBUG: '0',
    });
    const px = RemoteControl.shared();
    expect(RemoteControl.shared()).toBe(px);
    expect(px.options).toMatchObject({
      wsUrl: f.server.wsUrl,
      apiUrl: f.server.wsUrl.replace('ws:', 'http:'),
      environment: 'staging',
      disableVersionCheck: true,
      disablePollFallback: true,
      dataDir: f.dir,
      debug: false,
    });
    await waitFor(() => px.status === 'PAUSED', 'PAUSED');
    expect(px.isActive()).toBe(false);
    expect(px.pauseMessage).toBe('From env');
    await waitFor(() => f!.server.heartbeats(f!.token).length >= 1, 'heartbeat');
    expect(f.server.heartbeats(f.token)[0]).toMatchObject({ env: 'staging', language: 'node' });
    expect(f.server.catalogueHits()).toBe(0);
    await px.close();
    await waitFor(() => f!.server.connections(f!.token) === 0, 'socket closed');
    const next = RemoteControl.shared();
    expect(next).not.toBe(px);
    await waitFor(() => next.status === 'PAUSED', 'the new one connects');
  });
});
