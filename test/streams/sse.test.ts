import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { z, type PortalOptions, type ServicePortal } from '../../src/index.js';
import { makePortal } from '../helpers.js';
import { SseReader } from './sse-client.js';

interface Fixture {
  portal: ServicePortal;
  url: (path: string) => string;
  token: (sub: string, scopes?: string[], ttl?: string | number) => Promise<string>;
  open: (path: string, token?: string, headers?: Record<string, string>) => Promise<SseReader>;
  stop: () => Promise<void>;
}

const readers: SseReader[] = [];
const sockets: ClientSocket[] = [];
const fixtures: Fixture[] = [];
afterEach(async () => {
  for (const r of readers.splice(0)) r.close();
  for (const s of sockets.splice(0)) s.disconnect();
  for (const f of fixtures.splice(0)) await f.stop();
});

function feed(portal: ServicePortal, options: Record<string, unknown> = {}, gate: Record<string, unknown> = {}): void {
  portal.stream(
    '/api/feed',
    {
      description: 'Live feed',
      gate: { scopes: ['feed:read'], ...gate },
      input: z.object({ topic: z.string() }),
      ...options,
    },
    async ({ input, stream, identity, resumed }) => {
      await stream.joinGroup(`topic:${input.topic}`);
      if (!resumed) stream.send('hello', { user: identity?.id, topic: input.topic });
    },
  );
}

async function start(
  options: PortalOptions = {},
  register: (p: ServicePortal) => void = (p) => feed(p),
): Promise<Fixture> {
  const { portal, url, start: run, stop } = makePortal(options);
  register(portal);
  await run();
  const f: Fixture = {
    portal,
    url,
    token: (sub, scopes = ['feed:read'], ttl) => portal.tokens.issue({ sub, scopes, ttl }),
    open: async (path, token, headers = {}) => {
      const r = await SseReader.open(url(path), token ? { authorization: `Bearer ${token}`, ...headers } : headers);
      readers.push(r);
      return r;
    },
    stop,
  };
  fixtures.push(f);
  return f;
}

describe('portal.stream (server-sent events)', () => {
  it('serves text/event-stream through the gates: 401 without a token, 403 without the scope, 400 for bad input', async () => {
    const f = await start();
    const anonymous = await f.open('/api/feed?topic=news');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['content-type']).toContain('application/problem+json');
    expect(anonymous.problem().code).toBe('ERR_AUTH_MISSING');
    const noScope = await f.open('/api/feed?topic=news', await f.token('42', []));
    expect(noScope.status).toBe(403);
    const badInput = await f.open('/api/feed', await f.token('42'));
    expect(badInput.status).toBe(400);
    expect(f.portal.streamCount).toBe(0);

    const r = await f.open('/api/feed?topic=news', await f.token('42'));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache, no-transform');
    expect(r.headers['x-request-id']).toBeTruthy();
    await r.until((x) => x.events.length === 1);
    expect(r.events[0]!.event).toBe('hello');
    expect(JSON.parse(r.events[0]!.data)).toEqual({ user: '42', topic: 'news' });
    expect(r.events[0]!.id).toMatch(/^[A-Za-z0-9_-]+-1$/);
    expect(r.retry).toBe(2000);
    expect(f.portal.streamCount).toBe(1);
  });

  it('takes the token from ?access_token= (EventSource cannot send headers), and keeps it out of the input', async () => {
    const f = await start({}, (p) =>
      p.stream(
        '/api/echo',
        { description: 'Echo', gate: { auth: 'bearer' }, input: z.object({}).strict() },
        ({ input, stream }) => {
          stream.send('input', input);
        },
      ),
    );
    const r = await f.open(`/api/echo?access_token=${await f.token('7')}`);
    expect(r.status).toBe(200);
    await r.until((x) => x.events.length === 1);
    expect(r.data('input')).toEqual([{}]);
  });

  it('delivers sendToUser to the socket.io client and the SSE stream of the same user, and groups and broadcasts to both', async () => {
    const f = await start({ websocket: true });
    const token = await f.token('42');
    const r = await f.open('/api/feed?topic=news', token);
    const other = await f.open('/api/feed?topic=sport', await f.token('43'));
    const socket = ioClient(f.url(''), {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token },
    });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    await f.portal.joinGroup(socket.id === undefined ? '42' : '42', 'topic:news');
    const viaSocket: unknown[] = [];
    socket.on('notification', (p: unknown) => viaSocket.push(p));
    socket.on('item', (p: unknown) => viaSocket.push(p));
    socket.on('announcement', (p: unknown) => viaSocket.push(p));
    await r.until((x) => x.events.length === 1);

    await f.portal.sendToUser('42', 'notification', { text: 'hi' });
    await f.portal.sendToGroup('topic:news', 'item', { n: 1 });
    await f.portal.broadcast('announcement', { all: true });
    await r.until((x) => x.events.length === 4);
    await other.until((x) => x.events.length === 2);
    await expect.poll(() => viaSocket.length).toBe(3);
    expect(viaSocket).toEqual([{ text: 'hi' }, { n: 1 }, { all: true }]);
    expect(r.events.slice(1).map((e) => [e.event, JSON.parse(e.data)])).toEqual([
      ['notification', { text: 'hi' }],
      ['item', { n: 1 }],
      ['announcement', { all: true }],
    ]);
    // The other user's stream got only the broadcast; ids grow by one per event.
    expect(other.events.map((e) => e.event)).toEqual(['hello', 'announcement']);
    expect(r.events.map((e) => Number(e.id!.split('-').pop()))).toEqual([1, 2, 3, 4]);
    // Names a stream cannot carry are refused before anything is delivered.
    await expect(f.portal.sendToUser('42', 'reset', {})).rejects.toMatchObject({ code: 'ERR_STREAM_NAME' });
  });

  it('works without websocket: sendToUser reaches streams', async () => {
    const f = await start();
    const r = await f.open('/api/feed?topic=a', await f.token('5'));
    await r.until((x) => x.events.length === 1);
    await f.portal.sendToUser('5', 'ping', 1);
    await r.until((x) => x.events.length === 2);
    expect(r.data('ping')).toEqual([1]);
  });

  it('replays what a reconnect missed from Last-Event-ID, and sends event: reset when too much was missed or the id is unknown', async () => {
    const f = await start({}, (p) => feed(p, { replayEvents: 5 }));
    const token = await f.token('42');
    const first = await f.open('/api/feed?topic=news', token);
    await f.portal.sendToGroup('topic:news', 'item', { n: 1 });
    await first.until((x) => x.events.length === 2);
    const lastId = first.lastId!;
    first.close();
    await expect.poll(() => f.portal.streamCount).toBe(1); // kept for the resume window
    // Sent while the reader is away: buffered in its stream, still in its group.
    await f.portal.sendToGroup('topic:news', 'item', { n: 2 });
    await f.portal.sendToUser('42', 'item', { n: 3 });
    const again = await f.open('/api/feed?topic=news', token, { 'last-event-id': lastId });
    await again.until((x) => x.events.length === 2);
    expect(again.data('item')).toEqual([{ n: 2 }, { n: 3 }]);
    expect(again.events.map((e) => e.id!.split('-')[0])).toEqual([lastId.split('-')[0], lastId.split('-')[0]]);
    // Live events keep flowing on the resumed stream, with the next ids.
    await f.portal.sendToGroup('topic:news', 'item', { n: 4 });
    await again.until((x) => x.events.length === 3);
    expect(again.events.map((e) => Number(e.id!.split('-').pop()))).toEqual([3, 4, 5]);

    // Too much missed: only 5 events are kept.
    const resumeFrom = again.lastId!;
    again.close();
    await new Promise((r) => setTimeout(r, 50));
    for (let n = 5; n < 15; n++) await f.portal.sendToUser('42', 'item', { n });
    const late = await f.open('/api/feed?topic=news', token, { 'last-event-id': resumeFrom });
    await late.until((x) => x.events.length >= 1);
    expect(late.events[0]!.event).toBe('reset');
    expect(JSON.parse(late.events[0]!.data)).toEqual({ reason: 'missed' });
    expect(late.data('item')).toEqual([]);

    // A reconnect while the old connection still looks open takes the stream over and ends the old one.
    const takeover = await f.open('/api/feed?topic=news', token, { 'last-event-id': late.lastId! });
    await late.until((x) => x.ended, 3000, 'the old connection to end');
    await f.portal.sendToUser('42', 'item', { n: 99 });
    await takeover.until((x) => x.data('item').length === 1);
    expect(late.data('item')).toEqual([]);

    // Unknown id (another instance, or long gone): reset, then a new stream.
    const stranger = await f.open('/api/feed?topic=news', token, { 'last-event-id': 'nope-3' });
    await stranger.until((x) => x.events.length === 2);
    expect(stranger.events.map((e) => e.event)).toEqual(['reset', 'hello']);
    // Another user cannot take over a stream by its id.
    const thief = await f.open('/api/feed?topic=news', await f.token('99'), { 'last-event-id': resumeFrom });
    await thief.until((x) => x.events.length === 2);
    expect(thief.events[0]!.event).toBe('reset');
    expect(thief.events[1]!.id!.split('-')[0]).not.toBe(resumeFrom.split('-')[0]);
  });

  it('ends a live stream when its token is revoked, within the revocation bound, and refuses it afterwards', async () => {
    const f = await start();
    const token = await f.token('42');
    const keep = await f.open('/api/feed?topic=a', await f.token('42'));
    const r = await f.open('/api/feed?topic=a', token);
    await r.until((x) => x.events.length === 1);
    expect(f.portal.streamCount).toBe(2);
    await f.portal.revokeToken(token);
    // Ended by the time revokeToken resolves (the revocation store tells its listeners as it stores the key).
    expect(f.portal.streamCount).toBe(1);
    await r.until((x) => x.ended, 3000, 'the stream to end');
    expect(r.data('close')).toEqual([{ code: 'ERR_AUTH_REVOKED', message: 'The token has been revoked' }]);
    const again = await f.open('/api/feed?topic=a', token, { 'last-event-id': r.lastId! });
    expect(again.status).toBe(401);
    expect(again.problem().code).toBe('ERR_AUTH_REVOKED');
    // The same user's other token keeps its stream.
    await f.portal.sendToUser('42', 'still', true);
    await keep.until((x) => x.data('still').length === 1);
    expect(keep.ended).toBe(false);
  });

  it('ends a stream when its token expires', async () => {
    const f = await start({ auth: { clockToleranceSec: 0 } });
    const r = await f.open('/api/feed?topic=a', await f.token('42', ['feed:read'], 1));
    await r.until((x) => x.ended, 2500, 'the stream to end');
    expect(r.data<{ code: string }>('close')[0]!.code).toBe('ERR_AUTH_EXPIRED');
  });

  it('follows the lifecycle: gated streams end when the service leaves ACTIVE, new ones get 503; exempt streams stay', async () => {
    const f = await start({}, (p) => {
      feed(p);
      p.stream(
        '/api/ops',
        { description: 'Ops feed', gate: { auth: 'none', lifecycle: 'exempt' }, input: z.object({}) },
        ({ stream }) => stream.send('hello', {}),
      );
    });
    const r = await f.open('/api/feed?topic=a', await f.token('42'));
    const ops = await f.open('/api/ops');
    await r.until((x) => x.events.length === 1);
    await ops.until((x) => x.events.length === 1);
    await f.portal.lifecycle.set('MAINTENANCE', { message: 'Upgrading' });
    await r.until((x) => x.ended, 1000, 'the gated stream to end');
    expect(r.data<{ code: string }>('close')[0]!.code).toBe('SERVICE_MAINTENANCE');
    const refused = await f.open('/api/feed?topic=a', await f.token('42'));
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();
    await f.portal.broadcast('tick', 1);
    await ops.until((x) => x.data('tick').length === 1);
    expect(ops.ended).toBe(false);
  });

  it('rate-limits connects', async () => {
    const f = await start({}, (p) => feed(p, {}, { rateLimit: { by: 'user', points: 2, windowSec: 60 } }));
    const token = await f.token('42');
    expect((await f.open('/api/feed?topic=a', token)).status).toBe(200);
    expect((await f.open('/api/feed?topic=a', token)).status).toBe(200);
    const third = await f.open('/api/feed?topic=a', token);
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBeDefined();
    expect(f.portal.streamCount).toBe(2);
  });

  it('sends heartbeats', async () => {
    const f = await start({}, (p) => feed(p, { heartbeatMs: 30 }));
    const r = await f.open('/api/feed?topic=a', await f.token('42'));
    await r.until((x) => x.comments >= 3, 1000, 'heartbeats');
    expect(r.events.map((e) => e.event)).toEqual(['hello']);
  });

  it('drops a reader that falls behind instead of buffering without bound', async () => {
    const f = await start({}, (p) => feed(p, { maxBufferedBytes: '256kb', replayEvents: 10, resumeMs: 0 }));
    const slow = await f.open('/api/feed?topic=a', await f.token('42'));
    const fast = await f.open('/api/feed?topic=a', await f.token('43'));
    await slow.until((x) => x.events.length === 1);
    slow.pause();
    const blob = 'x'.repeat(32 * 1024);
    let sent = 0;
    // The kernel's socket buffers take some megabytes first; past them the portal's own buffer fills. The fast
    // reader reads each event before the next is sent, so only the slow one falls behind.
    while (f.portal.streamCount === 2 && sent < 3000) {
      await f.portal.sendToGroup('topic:a', 'blob', blob);
      sent++;
      await fast.until((x) => x.events.length === sent + 1, 5000, 'the fast reader');
    }
    expect(f.portal.streamCount).toBe(1);
    expect(sent).toBeLessThan(3000);
    slow.resume();
    await slow.until((x) => x.ended, 5000, 'the slow reader to be cut');
    expect(slow.data('blob').length).toBeLessThan(sent);
    await fast.until((x) => x.data('blob').length === sent, 5000, 'the fast reader');
    expect(fast.ended).toBe(false);
  });

  it('stream.close() ends it with event: close, and a reconnect with its id is answered 204 so EventSource stops', async () => {
    const f = await start({}, (p) =>
      p.stream('/api/once', { description: 'One event', gate: { auth: 'none' }, input: z.object({}) }, ({ stream }) => {
        stream.send('only', 1);
        stream.close();
      }),
    );
    const r = await f.open('/api/once');
    await r.until((x) => x.ended);
    expect(r.events.map((e) => e.event)).toEqual(['only', 'close']);
    expect(r.data<{ code: string }>('close')[0]!.code).toBe('ERR_STREAM_CLOSED');
    const again = await f.open('/api/once', undefined, { 'last-event-id': r.lastId! });
    expect(again.status).toBe(204);
  });

  it('close() ends every stream with event: close and does not wait for them', async () => {
    const f = await start();
    const a = await f.open('/api/feed?topic=a', await f.token('1'));
    const b = await f.open('/api/feed?topic=b', await f.token('2'));
    await a.until((x) => x.events.length === 1);
    await b.until((x) => x.events.length === 1);
    const at = Date.now();
    await f.portal.close({ timeoutMs: 5000 });
    expect(Date.now() - at).toBeLessThan(4000);
    await a.until((x) => x.ended);
    await b.until((x) => x.ended);
    expect(a.data<{ code: string }>('close')[0]!.code).toBe('ERR_STREAM_SHUTDOWN');
    expect(b.data<{ code: string }>('close')[0]!.code).toBe('ERR_STREAM_SHUTDOWN');
    expect(f.portal.streamCount).toBe(0);
  });

  it('refuses bad registrations', async () => {
    const { portal, stop } = makePortal();
    fixtures.push({ stop } as Fixture);
    expect(() => portal.stream('feed', { description: 'x' }, () => undefined)).toThrow(/must start with/);
    expect(() => portal.stream('/a', { description: 'x', heartbeatMs: -1 }, () => undefined)).toThrow(/heartbeatMs/);
    portal.stream('/b', { description: 'x' }, () => undefined);
    expect(() => portal.stream('/b', { description: 'x' }, () => undefined)).toThrow(/already registered/);
    expect(() => portal.endpoint('/b', { method: 'GET', description: 'x' }, () => 1)).toThrow(/already registered/);
  });
});
