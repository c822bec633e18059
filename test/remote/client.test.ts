import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LifecycleError, RemoteControl, type LifecycleState } from '../../src/lifecycle/index.js';
import { stateFileName } from '../../src/lifecycle/internal.js';
import { captureLogger, Fixture, sleep, waitFor } from './helpers.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

describe('RemoteControl', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('follows status frames, keeping the last fail mode and messages when a frame omits them', async () => {
    f = await new Fixture().start({
      status: 'ACTIVE',
      fail_mode: 'open',
      pause_message: 'Invoice due',
      offline_message: 'Gone fishing',
    });
    const px = f.control();
    const seen: Array<[LifecycleState, LifecycleState]> = [];
    px.onStatus((next, prev) => seen.push([next, prev]));
    expect(px.status).toBe('OFFLINE'); // closed until told otherwise, nothing known
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    expect(px.isActive()).toBe(true);
    expect(px.failMode).toBe('open');
    expect(px.pauseMessage).toBe('Invoice due');
    f.server.sendTo(f.token, JSON.stringify({ type: 'status', status: 'PAUSED' }));
    await waitFor(() => px.status === 'PAUSED', 'PAUSED');
    expect(px.isActive()).toBe(false);
    expect(px.message).toBe('Invoice due');
    expect(px.failMode).toBe('open');
    f.server.sendTo(f.token, JSON.stringify({ type: 'status', status: 'FAILED', offline_message: null }));
    await waitFor(() => px.status === 'FAILED', 'FAILED');
    expect(px.offlineMessage).toBeUndefined();
    expect(px.pauseMessage).toBe('Invoice due');
    expect(seen).toEqual([
      ['ACTIVE', 'OFFLINE'],
      ['PAUSED', 'ACTIVE'],
      ['FAILED', 'PAUSED'],
    ]);
  });

  it('sends heartbeats with sdk_version, language, env and timestamp, and the Node SDK User-Agent form with the gatehouse version', async () => {
    f = await new Fixture().start();
    const before = Date.now();
    f.control({ heartbeatIntervalMs: 40, environment: 'staging' });
    await waitFor(() => f!.server.heartbeats(f!.token).length >= 3, 'three heartbeats');
    const beats = f.server.heartbeats(f.token);
    for (const b of beats) {
      expect(Object.keys(b).sort()).toEqual(['env', 'language', 'sdk_version', 'timestamp', 'type']);
      expect(b).toMatchObject({ type: 'heartbeat', sdk_version: VERSION, language: 'node', env: 'staging' });
      expect(b.timestamp).toBeGreaterThanOrEqual(before);
      expect(b.timestamp).toBeLessThanOrEqual(Date.now());
    }
    const stamps = beats.map((b) => b.timestamp as number);
    expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
    expect(f.server.upgrades[0]?.userAgent).toBe(`pxcontrol-sdk-node/${VERSION} gatehouse/${VERSION}`);
  });

  it('in closed mode goes OFFLINE with the offline message as soon as the socket drops', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed', offline_message: 'Control plane lost' });
    const px = f.control({ disablePollFallback: true });
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    f.server.refuseUpgrades = 503;
    const dropped = Date.now();
    f.server.dropAll();
    await waitFor(() => px.status === 'OFFLINE', 'OFFLINE', 1000);
    expect(Date.now() - dropped).toBeLessThan(500);
    expect(px.message).toBe('Control plane lost');
    expect(px.record).toMatchObject({ state: 'OFFLINE', message: 'Control plane lost' });
    f.server.refuseUpgrades = 0;
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE again after the socket is back');
  });

  it('in open mode keeps the last state while the socket is down', async () => {
    f = await new Fixture().start({ status: 'PAUSED', fail_mode: 'open', pause_message: 'Invoice due' });
    const px = f.control({ disablePollFallback: true });
    await waitFor(() => px.status === 'PAUSED', 'PAUSED');
    const seen: LifecycleState[] = [];
    px.onStatus((next) => seen.push(next));
    f.server.refuseUpgrades = 503;
    const attempts = f.server.upgrades.length;
    f.server.dropAll();
    await waitFor(() => f!.server.upgrades.length >= attempts + 4, 'four refused reconnects');
    expect(px.connected).toBe(false);
    expect(px.status).toBe('PAUSED');
    expect(px.message).toBe('Invoice due');
    expect(seen).toEqual([]);
    expect(f.server.polls(f.token)).toBe(0); // disablePollFallback
  });

  it('falls back to polling after 3 failures, restores and follows the state without flicker while upgrades are refused', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const px = f.control();
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    const seen: LifecycleState[] = [];
    const events: string[] = [];
    px.onStatus((next) => seen.push(next));
    px.on('poll-started', () => events.push('poll-started'));
    px.on('poll-stopped', () => events.push('poll-stopped'));
    f.server.refuseUpgrades = 503;
    f.server.dropAll();
    await waitFor(() => px.polling, 'polling');
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE restored by the poll');
    expect(px.connected).toBe(false);
    f.server.setQuietly(f.token, { status: 'PAUSED', pause_message: 'Polled pause' });
    await waitFor(() => px.status === 'PAUSED', 'PAUSED by poll');
    expect(px.message).toBe('Polled pause');
    // Reconnects keep failing while polls succeed: the state must not flip to OFFLINE on each one.
    const attempts = f.server.upgrades.length;
    await waitFor(() => f!.server.upgrades.length >= attempts + 3, 'three more refused reconnects');
    f.server.setQuietly(f.token, { status: 'ACTIVE' });
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE by poll');
    await sleep(200);
    expect(seen).toEqual(['OFFLINE', 'ACTIVE', 'PAUSED', 'ACTIVE']);
    expect(events).toEqual(['poll-started']);
    expect(f.server.upgrades.filter((u) => u.refused).length).toBeGreaterThanOrEqual(6);
  });

  it('stops polling once the socket reconnects', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const px = f.control();
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    const events: string[] = [];
    px.on('poll-started', () => events.push('poll-started'));
    px.on('poll-stopped', () => events.push('poll-stopped'));
    px.on('connected', () => events.push('connected'));
    f.server.refuseUpgrades = 503;
    f.server.dropAll();
    await waitFor(() => f!.server.polls(f!.token) >= 3, 'three polls');
    f.server.refuseUpgrades = 0;
    await waitFor(() => px.connected && !px.polling, 'reconnected, not polling');
    // Stopping aborts the poll in flight, so none is sent later; one already written when the socket came back
    // is in this process's receive buffer: two turns of the event loop let the server read (and count) it. The
    // count was racy before (`expected 4 to be 3`): it was read before the server had parsed that last request.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const polls = f.server.polls(f.token);
    await sleep(300); // more than 7 poll intervals
    expect(f.server.polls(f.token)).toBe(polls);
    expect(events).toEqual(['poll-started', 'connected', 'poll-stopped']);
    expect(px.status).toBe('ACTIVE');
  });

  it('a socket that opens after polling but dies before any status does not keep the poll contact alive', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const px = f.control({ reconnectDelayMs: 30, maxReconnectDelayMs: 30 });
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    f.server.refuseUpgrades = 503;
    f.server.dropAll();
    await waitFor(() => px.polling && px.status === 'ACTIVE', 'ACTIVE by poll');
    f.server.greet = false;
    f.server.refuseUpgrades = 0;
    await waitFor(() => px.connected && !px.polling, 'a silent socket');
    expect(px.status).toBe('ACTIVE'); // no flicker while the new socket has not spoken yet
    const seen: LifecycleState[] = [];
    px.onStatus((next) => seen.push(next));
    f.server.refuseUpgrades = 503;
    f.server.dropAll();
    await waitFor(() => px.status === 'OFFLINE', 'OFFLINE once the silent socket dies');
    expect(px.polling).toBe(false);
    expect(seen[0]).toBe('OFFLINE');
  });

  it('a poll answer that refuses the token (403) goes OFFLINE and stops polling', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'open' });
    const px = f.control();
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    f.server.refuseUpgrades = 503;
    f.server.dropAll();
    await waitFor(() => px.polling, 'polling');
    f.server.pollStatus = 403;
    await waitFor(() => px.status === 'OFFLINE', 'OFFLINE after a 403 poll');
    expect(px.polling).toBe(false);
    const polls = f.server.polls(f.token);
    await sleep(200);
    expect(f.server.polls(f.token)).toBe(polls);
  });

  it('a revoked frame goes OFFLINE for good: no reconnect, no poll', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'open', offline_message: 'Revoked, sorry' });
    const px = f.control({ reconnectDelayMs: 5, maxReconnectDelayMs: 10, pollFallbackAfterFailures: 1 });
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    const reasons: string[] = [];
    px.on('revoked', (reason) => reasons.push(reason));
    f.server.revoke(f.token, 'token rotated');
    await waitFor(() => px.status === 'OFFLINE', 'OFFLINE');
    expect(reasons).toEqual(['token rotated']);
    expect(px.revoked).toBe('token rotated');
    expect(px.message).toBe('Revoked, sorry');
    const upgrades = f.server.upgrades.length;
    await sleep(250);
    expect(f.server.upgrades.length).toBe(upgrades);
    expect(f.server.polls(f.token)).toBe(0);
    expect(px.connected).toBe(false);
  });

  it.each([
    [4001, 'invalid token'],
    [4002, 'token revoked'],
  ])('close code %i goes OFFLINE and never reconnects', async (code, reason) => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'open' });
    const px = f.control({ reconnectDelayMs: 5, maxReconnectDelayMs: 10, pollFallbackAfterFailures: 1 });
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    const closes: Array<{ code: number; reason: string }> = [];
    px.on('disconnected', (info) => closes.push(info));
    f.server.closeSockets(f.token, code, reason);
    await waitFor(() => px.status === 'OFFLINE', 'OFFLINE');
    expect(closes).toEqual([{ code, reason }]);
    expect(px.revoked).toBe(reason);
    const upgrades = f.server.upgrades.length;
    await sleep(250);
    expect(f.server.upgrades.length).toBe(upgrades);
    expect(f.server.polls(f.token)).toBe(0);
  });

  it('an unknown token (the server closes 4001 at once) is OFFLINE and tries once only', async () => {
    f = await new Fixture().start();
    const px = f.control({ token: 'px_unknown', reconnectDelayMs: 5, maxReconnectDelayMs: 10 });
    await waitFor(() => px.revoked !== undefined, 'terminal close');
    expect(px.status).toBe('OFFLINE');
    await sleep(200);
    expect(f.server.upgrades.filter((u) => u.token === 'px_unknown').length).toBe(1);
  });

  it('ignores malformed frames (non-JSON, arrays, scalars, unknown status or type, binary, huge) with the state and messages intact', async () => {
    f = await new Fixture().start({
      status: 'PAUSED',
      fail_mode: 'closed',
      pause_message: 'Invoice due',
      offline_message: 'Away',
    });
    const px = f.control({ maxFrameBytes: 4096 });
    await waitFor(() => px.status === 'PAUSED', 'PAUSED');
    const seen: LifecycleState[] = [];
    px.onStatus((next) => seen.push(next));
    const bad: Array<string | Buffer> = [
      'not json',
      '{"type":"status","status":"ACTIVE"', // truncated
      JSON.stringify([{ type: 'status', status: 'ACTIVE' }]),
      'null',
      '42',
      '"ACTIVE"',
      JSON.stringify({ type: 'status', status: 'SLEEPING', pause_message: 'hijacked' }),
      JSON.stringify({ type: 'status', status: 'active' }),
      JSON.stringify({ type: 'status', status: 7 }),
      JSON.stringify({ type: 'mystery', status: 'ACTIVE' }),
      JSON.stringify({ status: 'ACTIVE' }),
      Buffer.from(JSON.stringify({ type: 'status', status: 'ACTIVE' })),
      JSON.stringify({ type: 'status', status: 'ACTIVE', pause_message: 'x'.repeat(10_000) }),
      JSON.stringify({
        type: 'status',
        fail_mode: 'sideways',
        pause_message: 42,
        retry_after_sec: -5,
        gatehouse_status: 'NAPPING',
      }),
    ];
    for (const frame of bad) f.server.sendTo(f.token, frame);
    // A marker frame behind them: once it lands, every bad frame before it was handled.
    f.server.sendTo(f.token, JSON.stringify({ type: 'status', offline_message: 'Away (marker)' }));
    await waitFor(() => px.offlineMessage === 'Away (marker)', 'the marker frame');
    expect(px.status).toBe('PAUSED');
    expect(px.message).toBe('Invoice due');
    expect(px.failMode).toBe('closed');
    expect(px.retryAfterSec).toBeUndefined();
    expect(px.connected).toBe(true);
    expect(f.server.connections(f.token)).toBe(1);
    expect(seen).toEqual([]);
    f.server.sendTo(f.token, JSON.stringify({ type: 'status', status: 'ACTIVE' }));
    await waitFor(() => px.status === 'ACTIVE', 'a good frame still applies');
  });

  it('reports error frames as serverError without touching the state', async () => {
    f = await new Fixture().start({ status: 'PAUSED', fail_mode: 'closed', pause_message: 'Invoice due' });
    const px = f.control();
    await waitFor(() => px.status === 'PAUSED', 'PAUSED');
    const errors: Array<{ code: string; message: string }> = [];
    px.on('serverError', (e) => errors.push(e));
    f.server.sendTo(f.token, JSON.stringify({ type: 'error', code: 'rate_limited', message: 'Too many connections' }));
    f.server.sendTo(f.token, JSON.stringify({ type: 'error' }));
    await waitFor(() => errors.length === 2, 'two serverError events');
    expect(errors).toEqual([
      { code: 'rate_limited', message: 'Too many connections' },
      { code: 'unknown', message: '' },
    ]);
    expect(px.status).toBe('PAUSED');
    expect(px.message).toBe('Invoice due');
    expect(px.connected).toBe(true);
  });

  it('starts with nothing known when the persisted state is damaged (closed: OFFLINE), then follows the server', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'open' });
    writeFileSync(join(f.dir, stateFileName(f.token)), '{"status":"ACTIVE","failMode":"sideways"');
    const { logger, lines } = captureLogger();
    const px = f.control({ logger });
    expect(px.status).toBe('OFFLINE');
    expect(px.failMode).toBe('closed');
    expect(lines.some((l) => l.includes('persisted state is damaged'))).toBe(true);
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE from the server');
    await px.close();
    expect(JSON.parse(readFileSync(join(f.dir, stateFileName(f.token)), 'utf8'))).toMatchObject({
      status: 'ACTIVE',
      failMode: 'open',
    });
  });

  it('reads MAINTENANCE, retry_after_sec and maintenance_message from a gatehouse control plane', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const px = f.control();
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    f.server.setStatus(f.token, {
      status: 'PAUSED',
      pause_message: 'Paused (stock view)',
      gatehouse_status: 'MAINTENANCE',
      maintenance_message: 'Back at 10:00',
      retry_after_sec: 600,
    });
    await waitFor(() => px.status === 'MAINTENANCE', 'MAINTENANCE');
    expect(px.message).toBe('Back at 10:00');
    expect(px.retryAfterSec).toBe(600);
    expect(px.record).toMatchObject({ state: 'MAINTENANCE', message: 'Back at 10:00', retryAfterSec: 600 });
    // A stock frame (no gatehouse fields) means the stock state again.
    f.server.sendTo(f.token, JSON.stringify({ type: 'status', status: 'PAUSED' }));
    await waitFor(() => px.status === 'PAUSED', 'PAUSED');
    expect(px.message).toBe('Paused (stock view)');
  });

  it('checks the version catalogue once at boot and warns when older, never otherwise', async () => {
    f = new Fixture();
    f.server.catalogue = {
      node: { latest: '0.1.3', minimum_supported: '0.1.3', changelog_url: null },
      gatehouse: { latest: '99.0.0', minimum_supported: '0.0.1', changelog_url: 'https://example.com/changes' },
    };
    await f.start();
    const { logger, lines } = captureLogger();
    const px = f.control({ disableVersionCheck: false, logger });
    const updates: unknown[] = [];
    px.on('update-available', (info) => updates.push(info));
    await waitFor(() => updates.length === 1, 'update-available');
    expect(updates[0]).toEqual({
      current: VERSION,
      latest: '99.0.0',
      minimumSupported: '0.0.1',
      changelogUrl: 'https://example.com/changes',
      unsupported: false,
    });
    expect(lines.some((l) => l.includes('"level":40') && l.includes('older than the latest 99.0.0'))).toBe(true);
    // Reconnects do not check again.
    await waitFor(() => px.connected, 'connected');
    f.server.dropAll();
    await waitFor(() => px.connected && f!.server.upgrades.length >= 2, 'reconnected');
    await sleep(100);
    expect(f.server.catalogueHits()).toBe(1);
    expect(updates).toHaveLength(1);
    expect(f.server.requests.find((r) => r.path === '/api/v1/sdk/versions')?.userAgent).toBe(
      `pxcontrol-sdk-node/${VERSION} gatehouse/${VERSION}`,
    );

    // Up to date: a check, no warning. Disabled: no request at all.
    f.server.catalogue = { node: { latest: VERSION, minimum_supported: VERSION, changelog_url: null } };
    const quiet = captureLogger();
    const px2 = f.control({ disableVersionCheck: false, logger: quiet.logger, dataDir: false });
    await waitFor(() => f!.server.catalogueHits() === 2, 'second catalogue hit');
    await waitFor(() => px2.connected, 'second connected');
    await sleep(50);
    expect(quiet.lines.some((l) => l.includes('older than'))).toBe(false);
    f.control({ dataDir: false });
    await sleep(100);
    expect(f.server.catalogueHits()).toBe(2);
  });

  it('never writes the token to a log line', async () => {
    f = await new Fixture().start({ status: 'ACTIVE', fail_mode: 'closed' });
    const { logger, lines } = captureLogger();
    const px = f.control({ logger, debug: true, disableVersionCheck: false });
    await waitFor(() => px.status === 'ACTIVE', 'ACTIVE');
    f.server.refuseUpgrades = 503;
    f.server.dropAll();
    await waitFor(() => f!.server.polls(f!.token) >= 2, 'polls');
    f.server.pollStatus = 500;
    await waitFor(() => px.status === 'OFFLINE', 'OFFLINE after failed polls');
    await px.close();
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.some((l) => l.includes('/ws/[redacted]'))).toBe(true);
    expect(lines.filter((l) => l.includes(f!.token))).toEqual([]);
  });

  it('rejects bad options with an error naming the option', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /RemoteControl: option "token" must be a project token \(or set PX_TOKEN\)/],
      [{ token: 'px_a', wsUrl: 'http://x' }, /option "wsUrl" must be a ws: or wss: URL/],
      [{ token: 'px_a', apiUrl: 'ftp://x' }, /option "apiUrl" must be a http: or https: URL/],
      [{ token: 'px_a', heartbeatIntervalMs: 0 }, /option "heartbeatIntervalMs"/],
      [{ token: 'px_a', reconnectDelayMs: 500, maxReconnectDelayMs: 100 }, /option "maxReconnectDelayMs"/],
      [{ token: 'px_a', pollFallbackAfterFailures: 1.5 }, /option "pollFallbackAfterFailures"/],
      [{ token: 'px_a', debug: 'yes' }, /option "debug" must be true or false/],
      [{ token: 'px a' }, /option "token" must be a token without whitespace/],
      [{ env: { PX_TOKEN: 'px_a', PX_DEBUG: 'maybe' } }, /"PX_DEBUG" must be/],
    ];
    for (const [options, message] of bad) {
      let caught: unknown;
      try {
        new RemoteControl({ env: {}, dataDir: false, ...options });
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(options)).toBeInstanceOf(LifecycleError);
      expect((caught as LifecycleError).code).toBe('ERR_LIFECYCLE_OPTIONS');
      expect((caught as Error).message).toMatch(message);
    }
  });
});
