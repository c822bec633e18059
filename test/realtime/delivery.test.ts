import { afterEach, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { collect, disconnected, settle, startRealtime, waitFor, type RealtimeFixture } from './helpers.js';

let f: RealtimeFixture | undefined;
afterEach(async () => {
  await f?.stop();
  f = undefined;
});

describe('Realtime delivery', () => {
  it('sends one copy to each of a user’s three sockets and none to another user', async () => {
    f = await startRealtime();
    const t42 = await f.token('42');
    const tabs = [await f.connect(t42), await f.connect(t42), await f.connect(t42)];
    const other = await f.connect(await f.token('7'));
    const got = tabs.map((c) => collect(c, 'notification'));
    const otherGot = collect(other, 'notification');
    await f.portal.sendToUser('42', 'notification', { text: 'hi' });
    await waitFor(() => got.every((g) => g.length === 1), 3000, 'all tabs');
    for (const c of [...tabs, other]) await settle(c);
    expect(got).toEqual([[{ text: 'hi' }], [{ text: 'hi' }], [{ text: 'hi' }]]);
    expect(otherGot).toEqual([]);
  });

  it('delivers group messages to group members only, and broadcasts to everyone', async () => {
    f = await startRealtime({ websocket: { allowAnonymous: true } });
    const portal = f.portal;
    portal.onEvent(
      'join_team',
      { description: 'Test event join_team', input: z.object({ teamId: z.string() }) },
      async ({ input, socket }) => {
        await portal.joinGroup(socket, input.teamId);
        return { status: 'success' };
      },
    );
    const a = await f.connect(await f.token('a'));
    const b = await f.connect(await f.token('b'));
    const c = await f.connect(await f.token('c'));
    const anon = await f.connect(undefined);
    expect(await a.emitWithAck('join_team', { teamId: 'team-7' })).toEqual({ status: 'success' });
    expect(await b.emitWithAck('join_team', { teamId: 'team-7' })).toEqual({ status: 'success' });
    expect(await c.emitWithAck('join_team', { teamId: 'team-8' })).toEqual({ status: 'success' });
    const team = [a, b, c, anon].map((s) => collect(s, 'team_update'));
    const news = [a, b, c, anon].map((s) => collect(s, 'announcement'));
    await portal.sendToGroup('team-7', 'team_update', { n: 1 });
    await portal.broadcast('announcement', { n: 2 });
    await waitFor(() => news.every((n) => n.length === 1), 3000, 'broadcast');
    for (const s of [a, b, c, anon]) await settle(s);
    expect(team).toEqual([[{ n: 1 }], [{ n: 1 }], [], []]);
    expect(news).toEqual([[{ n: 2 }], [{ n: 2 }], [{ n: 2 }], [{ n: 2 }]]);
    expect((await portal.groupMembers('team-7')).sort()).toEqual(['a', 'b']);
    expect(anon.connected).toBe(true);
  });

  it('joinGroup by user id joins all of that user’s sockets; leaveGroup takes them out', async () => {
    f = await startRealtime();
    const t = await f.token('u1');
    const s1 = await f.connect(t);
    const s2 = await f.connect(t);
    const other = await f.connect(await f.token('u2'));
    const got = [s1, s2, other].map((s) => collect(s, 'g'));
    expect(await f.portal.joinGroup('u1', 'ops')).toBe(2);
    expect(await f.portal.joinGroup('u1', 'ops')).toBe(0); // already members
    expect(await f.portal.groupMembers('ops')).toEqual(['u1']);
    await f.portal.sendToGroup('ops', 'g', 1);
    await waitFor(() => got[0]!.length === 1 && got[1]!.length === 1, 3000, 'group delivery');
    await f.portal.leaveGroup('u1', 'ops');
    await f.portal.sendToGroup('ops', 'g', 2);
    for (const s of [s1, s2, other]) await settle(s);
    expect(got).toEqual([[1], [1], []]);
    expect(await f.portal.groupMembers('ops')).toEqual([]);
  });

  it('refuses to join more than maxGroupsPerSocket groups', async () => {
    f = await startRealtime({ websocket: { maxGroupsPerSocket: 2 } });
    const portal = f.portal;
    portal.onEvent('join', { description: 'Test event join', input: z.string() }, async ({ input, socket }) => ({
      joined: await portal.joinGroup(socket, input),
    }));
    const s = await f.connect(await f.token('x'));
    expect(await s.emitWithAck('join', 'g1')).toEqual({ joined: 1 });
    expect(await s.emitWithAck('join', 'g2')).toEqual({ joined: 1 });
    expect(await s.emitWithAck('join', 'g3')).toEqual({
      error: { code: 'ERR_GROUP_LIMIT', message: 'A socket may be in at most 2 groups' },
    });
    expect(await portal.joinGroup('x', 'g4')).toBe(0);
    expect(await portal.groupMembers('g3')).toEqual([]);
    expect(await portal.groupMembers('g2')).toEqual(['x']);
  });

  it('rejects bad group names and reserved event names', async () => {
    f = await startRealtime();
    await expect(f.portal.sendToGroup('', 'e', 1)).rejects.toMatchObject({ code: 'ERR_GROUP_NAME' });
    await expect(f.portal.sendToUser('x'.repeat(500), 'e', 1)).rejects.toMatchObject({ code: 'ERR_GROUP_NAME' });
    await expect(f.portal.broadcast('disconnect', 1)).rejects.toMatchObject({ code: 'ERR_REALTIME_OPTIONS' });
    expect(() =>
      f!.portal.onEvent('connect', { description: 'Test event connect', input: z.unknown() }, () => 1),
    ).toThrow(/reserved/);
    f.portal.onEvent('once', { description: 'Test event once', input: z.unknown() }, () => 1);
    expect(() => f!.portal.onEvent('once', { description: 'Test event once', input: z.unknown() }, () => 1)).toThrow(
      /already registered/,
    );
  });

  it('closes open websockets first, so portal.close() does not wait for them', async () => {
    f = await startRealtime();
    const t = await f.token('1');
    const sockets = [await f.connect(t), await f.connect(t), await f.connect(await f.token('2'))];
    const gone = Promise.all(sockets.map((s) => disconnected(s)));
    const started = Date.now();
    await f.portal.close({ timeoutMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await gone).toEqual(['io server disconnect', 'io server disconnect', 'io server disconnect']);
    await expect(f.portal.sendToUser('1', 'late')).rejects.toMatchObject({ code: 'ERR_REALTIME_CLOSED' });
  });

  it('throws a clear error when websocket is off', async () => {
    f = await startRealtime({ websocket: false });
    expect(f.portal.realtime).toBeUndefined();
    await expect(f.portal.sendToUser('1', 'e')).rejects.toMatchObject({ code: 'ERR_REALTIME_OPTIONS' });
  });
});
