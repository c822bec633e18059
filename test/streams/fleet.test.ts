import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ServicePortal, z } from '../../src/index.js';
import { createLogger } from '../../src/logger.js';
import { REDIS_URL, REQUIRE_REDIS, checkRedis, dropKeys, fleetName } from '../fleet/helpers.js';
import { TEST_SECRET, tempDir } from '../helpers.js';
import { SseReader } from './sse-client.js';

const available = await checkRedis('the stream fleet tests');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function instance(name: string, websocket: boolean): Promise<ServicePortal> {
  const { dir, cleanup } = tempDir();
  const portal = new ServicePortal({
    name,
    dataDir: dir,
    logger: createLogger({ level: 'silent' }),
    auth: { secret: TEST_SECRET },
    redis: REDIS_URL,
    websocket,
    requestLog: false,
  });
  portal.stream(
    '/api/feed',
    { description: 'Live feed', input: z.object({ topic: z.string() }) },
    async ({ input, stream }) => {
      await stream.joinGroup(`topic:${input.topic}`);
      stream.send('hello', {});
    },
  );
  await portal.run({ port: 0, handleSignals: false });
  cleanups.push(async () => {
    await portal.close({ timeoutMs: 2000 });
    cleanup();
  });
  return portal;
}

async function open(portal: ServicePortal, path: string, token: string): Promise<SseReader> {
  const r = await SseReader.open(`http://127.0.0.1:${portal.port}${path}`, { authorization: `Bearer ${token}` });
  cleanups.push(() => r.close());
  expect(r.status).toBe(200);
  await r.until((x) => x.events.length === 1);
  return r;
}

describe.skipIf(!available && !REQUIRE_REDIS)('streams across a fleet on real Redis', () => {
  it('sendToUser, sendToGroup and broadcast on one instance reach the streams and sockets of another', async () => {
    const name = fleetName();
    cleanups.push(() => dropKeys(REDIS_URL, name));
    const a = await instance(name, true);
    const b = await instance(name, true);
    const token = await a.tokens.issue({ sub: '42' });
    const onB = await open(b, '/api/feed?topic=news', token);
    const onA = await open(a, '/api/feed?topic=sport', token);
    const socket: ClientSocket = ioClient(`http://127.0.0.1:${b.port}`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token },
    });
    cleanups.push(() => socket.disconnect());
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const viaSocket: unknown[] = [];
    socket.on('notification', (p: unknown) => viaSocket.push(p));
    // The Redis adapter subscribes asynchronously: send until the first delivery crosses, then count exactly.
    const deadline = Date.now() + 3000;
    while (onB.data('warmup').length === 0 && Date.now() < deadline) {
      await a.sendToUser('42', 'warmup', 1);
      await new Promise((r) => setTimeout(r, 50));
    }
    await a.sendToUser('42', 'notification', { text: 'hi' });
    await onB.until((x) => x.data('notification').length === 1, 2000, 'the stream on B');
    await onA.until((x) => x.data('notification').length === 1, 2000, 'the stream on A');
    await expect.poll(() => viaSocket).toEqual([{ text: 'hi' }]);
    await a.sendToGroup('topic:news', 'item', { n: 1 });
    await onB.until((x) => x.data('item').length === 1, 2000, 'the group on B');
    await b.broadcast('all', { n: 2 });
    await onA.until((x) => x.data('all').length === 1, 2000, 'the broadcast on A');
    await new Promise((r) => setTimeout(r, 100));
    // Exactly once each: no echo of a delivery back to the instance that sent it.
    expect(onB.data('notification')).toEqual([{ text: 'hi' }]);
    expect(onA.data('notification')).toEqual([{ text: 'hi' }]);
    expect(onA.data('item')).toEqual([]);
    expect(onB.data('all')).toEqual([{ n: 2 }]);
  });

  it('carries deliveries between instances without websocket (the adapter alone), and a revocation on one ends the stream on the other', async () => {
    const name = fleetName();
    cleanups.push(() => dropKeys(REDIS_URL, name));
    const a = await instance(name, false);
    const b = await instance(name, false);
    const token = await a.tokens.issue({ sub: '7' });
    const onB = await open(b, '/api/feed?topic=x', token);
    const deadline = Date.now() + 3000;
    while (onB.data('warmup').length === 0 && Date.now() < deadline) {
      await a.sendToGroup('topic:x', 'warmup', 1);
      await new Promise((r) => setTimeout(r, 50));
    }
    await a.sendToUser('7', 'note', { id: 1 });
    await onB.until((x) => x.data('note').length === 1, 2000, 'the stream on B');
    const at = Date.now();
    await a.revokeToken(token);
    await onB.until((x) => x.ended, 2000, 'the stream on B to end');
    expect(Date.now() - at).toBeLessThan(1000);
    expect(onB.data<{ code: string }>('close')[0]!.code).toBe('ERR_AUTH_REVOKED');
  });
});
