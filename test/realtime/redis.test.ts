import { randomUUID } from 'node:crypto';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { redisAvailable } from '../helpers.js';
import { collect, settle, startRealtime, waitFor, type RealtimeFixture } from './helpers.js';

const REQUIRE = process.env.GATEHOUSE_REQUIRE_REDIS === '1';

const available = await redisAvailable();
if (!available && !REQUIRE) {
  // Visible on purpose: a skipped scale-out test should never go unnoticed.
  console.warn(
    '[realtime] SKIPPING the multi-instance Redis test: no Redis on 127.0.0.1:6379 (set GATEHOUSE_REQUIRE_REDIS=1 to make this a failure)',
  );
}

const fixtures: RealtimeFixture[] = [];
const connections: Redis[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.stop();
  for (const c of connections.splice(0)) c.disconnect();
});

async function instance(key: string): Promise<RealtimeFixture> {
  const pub = new Redis({ host: '127.0.0.1', port: 6379 });
  const sub = pub.duplicate();
  connections.push(pub, sub);
  const f = await startRealtime({ websocket: { adapter: createAdapter(pub, sub, { key, requestsTimeout: 3000 }) } });
  fixtures.push(f);
  return f;
}

describe.skipIf(!available && !REQUIRE)('Realtime across instances (Redis adapter)', () => {
  it('requires Redis when GATEHOUSE_REQUIRE_REDIS=1', () => {
    expect(available).toBe(true);
  });

  it('delivers sendToUser, joinGroup and groupMembers across two portals', async () => {
    const key = `gatehouse-test-${randomUUID()}`;
    const a = await instance(key);
    const b = await instance(key);
    b.portal.onEvent('ping', { description: 'Test event ping', input: z.unknown() }, () => 'pong');
    // Both portals share the secret (makePortal), so a token from one is valid on the other.
    const onB = await b.connect(await a.token('42'));
    const onA = await a.connect(await a.token('42'));
    const stranger = await b.connect(await b.token('7'));
    const got = [onB, onA, stranger].map((s) => collect(s, 'notification'));
    await a.portal.sendToUser('42', 'notification', { text: 'hi' });
    await waitFor(() => got[0]!.length === 1 && got[1]!.length === 1, 5000, 'cross-instance delivery');

    expect(await a.portal.joinGroup('42', 'team-7')).toBe(2);
    expect(await b.portal.groupMembers('team-7')).toEqual(['42']);
    const team = [onB, onA, stranger].map((s) => collect(s, 'team_update'));
    await b.portal.sendToGroup('team-7', 'team_update', 1);
    await waitFor(() => team[0]!.length === 1 && team[1]!.length === 1, 5000, 'cross-instance group delivery');
    for (const s of [onB, onA, stranger]) await settle(s);
    expect(got).toEqual([[{ text: 'hi' }], [{ text: 'hi' }], []]);
    expect(team).toEqual([[1], [1], []]);
    expect(await onB.emitWithAck('ping', null)).toBe('pong');
  });
});
