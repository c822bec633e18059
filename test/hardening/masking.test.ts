import { afterEach, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { makePortal, postRaw } from '../helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function started() {
  const made = makePortal();
  cleanups.push(made.stop);
  return made;
}

describe('Hardening: token masking', () => {
  it('hands out an opaque reference on authenticated routes, which the bearer gate refuses (no impersonation)', async () => {
    const { portal, url, start } = await started();
    const counter = { admin: 0, lookup: 0 };
    const notes = new Map<string, string>([['victim', 'secret note']]);
    portal.endpoint(
      '/api/friend',
      {
        method: 'GET',
        gate: { auth: 'bearer', payloadAuthTokenKey: 'userId' },
        output: z.object({ userId: z.string() }),
      },
      () => ({ userId: 'victim' }),
    );
    portal.endpoint('/api/notes', { method: 'GET', gate: { auth: 'bearer' } }, ({ identity }) => {
      counter.admin++;
      return { note: notes.get(identity!.id) ?? null };
    });
    portal.endpoint(
      '/api/lookup',
      { gate: { auth: 'bearer', payloadAuthTokenKey: 'userId' }, input: z.object({ userId: z.string() }) },
      ({ input }) => {
        counter.lookup++;
        return { known: notes.has(input.userId) };
      },
    );
    await start();
    const attacker = await portal.tokens.issue({ sub: 'attacker' });
    const res = await fetch(url('/api/friend'), { headers: { authorization: `Bearer ${attacker}` } });
    expect(res.status).toBe(200);
    const masked = ((await res.json()) as { userId: string }).userId;
    expect(masked).not.toBe('victim');
    expect(JSON.parse(Buffer.from(masked.split('.')[0]!, 'base64url').toString()).typ).toBe('gatehouse-ref+jwt');

    const stolen = await fetch(url('/api/notes'), { headers: { authorization: `Bearer ${masked}` } });
    expect(stolen.status).toBe(401);
    expect(((await stolen.json()) as { code: string }).code).toBe('ERR_AUTH_REFERENCE');
    expect(stolen.headers.get('www-authenticate')).toMatch(/^Bearer/);
    // Twice: the second try would hit the verification cache.
    expect((await fetch(url('/api/notes'), { headers: { authorization: `Bearer ${masked}` } })).status).toBe(401);
    expect(counter.admin).toBe(0);

    // Where the mask key is unmasked, the reference names the id.
    const lookup = await postRaw(url('/api/lookup'), JSON.stringify({ userId: masked }), 'application/json', {
      authorization: `Bearer ${attacker}`,
    });
    expect(lookup.status).toBe(200);
    expect(await lookup.json()).toEqual({ known: true });
    expect(counter.lookup).toBe(1);
    expect(notes.get('victim')).toBe('secret note');
    expect(notes.size).toBe(1);
  });

  it('takes scopes only from the validated result: an echoing login route cannot mint scopes', async () => {
    const { portal, url, start } = await started();
    let calls = 0;
    // The output schema declares no scopes: whatever the handler echoes, the token carries none.
    portal.endpoint(
      '/login',
      {
        gate: { auth: 'none', payloadAuthTokenKey: 'userId' },
        input: z.object({ name: z.string(), scopes: z.array(z.string()).optional() }),
        output: z.object({ userId: z.string() }),
      },
      ({ input }) => {
        calls++;
        return { userId: input.name, scopes: input.scopes };
      },
    );
    // No output schema at all: nothing was validated, so no scopes either.
    portal.endpoint('/login-raw', { gate: { auth: 'none', payloadAuthTokenKey: 'userId' } }, ({ input }) => {
      calls++;
      return { ...(input as Record<string, unknown>), userId: 'ann' };
    });
    await start();
    const a = (await (
      await postRaw(url('/login'), JSON.stringify({ name: 'ann', scopes: ['admin'] }))
    ).json()) as Record<string, unknown>;
    expect(a.scopes).toBeUndefined();
    expect((await portal.tokens.verify(a.userId as string)).scopes).toEqual([]);
    const b = (await (await postRaw(url('/login-raw'), JSON.stringify({ scopes: ['admin'] }))).json()) as Record<
      string,
      unknown
    >;
    expect(b.scopes).toEqual(['admin']); // echoed as data, but never into the token
    const identity = await portal.tokens.verify(b.userId as string);
    expect(identity.id).toBe('ann');
    expect(identity.scopes).toEqual([]);
    expect(calls).toBe(2);
  });

  it('checks the output schema against raw ids, before masking', async () => {
    const { portal, url, start } = await started();
    portal.endpoint(
      '/login',
      {
        gate: { auth: 'none', payloadAuthTokenKey: 'userId' },
        input: z.object({}),
        output: z.object({ userId: z.string().regex(/^u-\d+$/), scopes: z.array(z.string()) }),
      },
      () => ({ userId: 'u-7', scopes: ['notes:read'] }),
    );
    await start();
    const res = await postRaw(url('/login'), '{}');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { userId: string };
    const identity = await portal.tokens.verify(body.userId);
    expect(identity).toMatchObject({ id: 'u-7', scopes: ['notes:read'] });
  });
});
