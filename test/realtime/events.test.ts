import { afterEach, describe, expect, it } from 'vitest';
import { HttpError, z } from '../../src/index.js';
import { disconnected, settle, startRealtime, waitFor, type RealtimeFixture } from './helpers.js';

let f: RealtimeFixture | undefined;
afterEach(async () => {
  await f?.stop();
  f = undefined;
});

describe('Realtime events', () => {
  it('answers an unauthorised event with an ack error and does not run the handler', async () => {
    f = await startRealtime();
    const stored: string[] = [];
    f.portal.onEvent(
      'write',
      { description: 'Test event write', gate: { scopes: ['notes:write'] }, input: z.object({ text: z.string() }) },
      ({ input }) => {
        stored.push(input.text);
        return { ok: true };
      },
    );
    const reader = await f.connect(await f.token('r', ['notes:read']));
    const writer = await f.connect(await f.token('w', ['notes:write']));
    expect(await reader.emitWithAck('write', { text: 'nope' })).toEqual({
      error: { code: 'ERR_FORBIDDEN_SCOPE', message: 'Missing required scope: notes:write' },
    });
    expect(stored).toEqual([]);
    expect(await writer.emitWithAck('write', { text: 'yes' })).toEqual({ ok: true });
    expect(stored).toEqual(['yes']);
  });

  it('answers a malformed payload with ERR_VALIDATION and field errors, handler not run', async () => {
    f = await startRealtime();
    const stored: unknown[] = [];
    f.portal.onEvent(
      'save',
      { description: 'Test event save', input: z.object({ title: z.string().min(1), n: z.number().int() }) },
      ({ input }) => {
        stored.push(input);
        return 'saved';
      },
    );
    const s = await f.connect(await f.token('1'));
    const bad = (await s.emitWithAck('save', { title: '', n: 1.5 })) as {
      error: { code: string; errors: { path: string }[] };
    };
    expect(bad.error.code).toBe('ERR_VALIDATION');
    expect(bad.error.errors.map((e) => e.path).sort()).toEqual(['n', 'title']);
    expect(((await s.emitWithAck('save', 'just a string')) as { error: { code: string } }).error.code).toBe(
      'ERR_VALIDATION',
    );
    expect(((await s.emitWithAck('save')) as { error: { code: string } }).error.code).toBe('ERR_VALIDATION');
    expect(stored).toEqual([]);
    expect(await s.emitWithAck('save', { title: 't', n: 2, extra: 'dropped', __proto__: { polluted: true } })).toBe(
      'saved',
    );
    expect(stored).toEqual([{ title: 't', n: 2 }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('survives events without an ack callback, throwing handlers and garbage frames', async () => {
    f = await startRealtime();
    const seen: unknown[] = [];
    f.portal.onEvent('note', { description: 'Test event note', input: z.object({ t: z.string() }) }, ({ input }) => {
      seen.push(input.t);
      if (input.t === 'boom') throw new Error('handler exploded');
      if (input.t === 'gone') throw new HttpError(404, 'Note not found', { code: 'NOTE_NOT_FOUND' });
      return 'ok';
    });
    const s = await f.connect(await f.token('1'));
    s.emit('note', { t: 'no-ack' });
    s.emit('note', { bad: true });
    s.emit('note', { t: 'boom' });
    s.emit('unknown-event', 1);
    await settle(s);
    expect(seen).toEqual(['no-ack', 'boom']);
    const crash = (await s.emitWithAck('note', { t: 'boom' })) as { error: { code: string; message: string } };
    expect(crash.error.code).toBe('ERR_INTERNAL');
    expect(crash.error.message).not.toContain('exploded');
    expect(await s.emitWithAck('note', { t: 'gone' })).toEqual({
      error: { code: 'NOTE_NOT_FOUND', message: 'Note not found' },
    });
    expect(await s.emitWithAck('missing', {})).toEqual({
      error: { code: 'ERR_UNKNOWN_EVENT', message: 'No handler for event "missing"' },
    });

    // A corrupt Socket.IO packet closes only that connection.
    const victim = await f.connect(await f.token('2'));
    const gone = disconnected(victim);
    (victim.io.engine as unknown as { send(data: string): void }).send('2["note",{"t":');
    expect(await gone).toMatch(/close|error/);
    expect(await s.emitWithAck('note', { t: 'still here' })).toBe('ok');
  });

  it('applies gate rate limits per event and reports the retry time', async () => {
    f = await startRealtime();
    let runs = 0;
    f.portal.onEvent(
      'vote',
      {
        description: 'Test event vote',
        input: z.unknown(),
        gate: { rateLimit: { by: 'user', points: 2, windowSec: 60 } },
      },
      () => ++runs,
    );
    const a = await f.connect(await f.token('a'));
    const b = await f.connect(await f.token('b'));
    expect(await a.emitWithAck('vote')).toBe(1);
    expect(await a.emitWithAck('vote')).toBe(2);
    const limited = (await a.emitWithAck('vote')) as { error: { code: string; retryAfterSec: number } };
    expect(limited.error.code).toBe('ERR_RATE_LIMITED');
    expect(limited.error.retryAfterSec).toBeGreaterThan(0);
    expect(await b.emitWithAck('vote')).toBe(3);
    expect(runs).toBe(3);
  });

  it('validates output and masks nothing it should not send', async () => {
    f = await startRealtime();
    f.portal.onEvent(
      'profile',
      { description: 'Test event profile', input: z.unknown(), output: z.object({ name: z.string() }) },
      () => ({ name: 'n', password: 'hunter2' }) as { name: string },
    );
    f.portal.onEvent(
      'broken',
      { description: 'Test event broken', input: z.unknown(), output: z.object({ name: z.string() }) },
      () => ({ name: 3 }) as unknown as { name: string },
    );
    const s = await f.connect(await f.token('1'));
    expect(await s.emitWithAck('profile')).toEqual({ name: 'n' });
    expect(((await s.emitWithAck('broken')) as { error: { code: string } }).error.code).toBe('ERR_OUTPUT_INVALID');
  });

  it('masks and unmasks ids with payloadAuthTokenKey, as on HTTP', async () => {
    f = await startRealtime();
    const seen: unknown[] = [];
    f.portal.onEvent(
      'whois',
      { description: 'Masked ids', input: z.object({ userId: z.string() }), gate: { payloadAuthTokenKey: 'userId' } },
      ({ input }) => {
        seen.push(input.userId);
        return { userId: 'friend-9' };
      },
    );
    const s = await f.connect(await f.token('1'));
    const masked = (await s.emitWithAck('whois', { userId: await f.token('friend-3') })) as { userId: string };
    expect(seen).toEqual(['friend-3']);
    expect(masked.userId).not.toBe('friend-9');
    expect((await f.portal.tokens.verify(masked.userId)).id).toBe('friend-9');
    expect(((await s.emitWithAck('whois', { userId: 'raw-id' })) as { error: { code: string } }).error.code).toMatch(
      /^ERR_AUTH/,
    );
    expect(seen).toEqual(['friend-3']);
  });

  it('lets listeners attached through portal.io receive events gatehouse does not handle', async () => {
    f = await startRealtime();
    f.portal.io.on('connection', (socket) => socket.on('raw', (x: number, ack: (v: number) => void) => ack(x * 2)));
    const s = await f.connect(await f.token('1'));
    expect(await s.emitWithAck('raw', 21)).toBe(42);
    await waitFor(() => s.connected);
  });
});

describe('Realtime event registration', () => {
  // Runs in the default (strict) enforce mode; skipped when the environment picks another.
  it('applies the enforcer registration rule: strict mode needs a description and an input schema', async () => {
    f = await startRealtime({ enforce: 'strict' });
    const portal = f.portal;
    expect(() => portal.onEvent('bare', {}, () => 1)).toThrow(
      /event 'bare': description is missing or empty; input schema is missing/,
    );
    expect(() => portal.onEvent('bare', { description: 'x', input: {} as unknown as undefined }, () => 1)).toThrow(
      /input is not a zod schema/,
    );
    portal.onEvent('bare', { description: 'Now fine', input: z.unknown() }, () => 1);
    const s = await f.connect(await f.token('1'));
    expect(await s.emitWithAck('bare')).toBe(1);
  });
});
