import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { GateConfigError } from '../../src/index.js';
import { TEST_SECRET, makePortal } from '../helpers.js';

const secret = new TextEncoder().encode(TEST_SECRET);
const now = (): number => Math.floor(Date.now() / 1000);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function agedPortal() {
  const made = makePortal({ auth: { maxTokenAgeSec: 60, clockToleranceSec: 0 } });
  const counter = { calls: 0 };
  made.portal.endpoint('/api/me', { method: 'GET', description: 'Me', gate: { auth: 'bearer' } }, ({ identity }) => {
    counter.calls++;
    return { id: identity?.id };
  });
  await made.start();
  cleanups.push(made.stop);
  const hit = (token: string): Promise<Response> =>
    fetch(made.url('/api/me'), { headers: { authorization: `Bearer ${token}` } });
  return { ...made, counter, hit };
}

describe('auth.maxTokenAgeSec', () => {
  it('refuses a validly signed token with an absurd lifetime once it is older than the limit, and runs no handler', async () => {
    const { hit, counter } = await agedPortal();
    // Signed with the portal's own secret, valid for ten years, but issued two hours ago.
    const old = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('42')
      .setJti(crypto.randomUUID())
      .setIssuedAt(now() - 7200)
      .setExpirationTime(now() + 10 * 365 * 86_400)
      .sign(secret);
    const res = await hit(old);
    expect(res.status).toBe(401);
    expect((await res.json()).code).toBe('ERR_AUTH_EXPIRED');
    const noIat = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('42')
      .setJti(crypto.randomUUID())
      .setExpirationTime(now() + 600)
      .sign(secret);
    const res2 = await hit(noIat);
    expect(res2.status).toBe(401);
    expect((await res2.json()).code).toBe('ERR_AUTH_CLAIMS');
    expect(counter.calls).toBe(0);
  });

  it('accepts a fresh token, and stops accepting it from the cache once it ages past the limit', async () => {
    const { hit, counter } = await agedPortal();
    const young = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('7')
      .setJti(crypto.randomUUID())
      .setIssuedAt(now() - 58)
      .setExpirationTime(now() + 3600)
      .sign(secret);
    expect((await hit(young)).status).toBe(200); // verified, now cached
    await new Promise((r) => setTimeout(r, 3000));
    const later = await hit(young);
    expect(later.status).toBe(401);
    expect((await later.json()).code).toBe('ERR_AUTH_EXPIRED');
    expect(counter.calls).toBe(1);
  });

  it('refuses a bad limit at construction, naming the option', () => {
    for (const bad of [0, -5, 1.5, Number.NaN]) {
      expect(() => makePortal({ auth: { maxTokenAgeSec: bad } })).toThrow(GateConfigError);
      expect(() => makePortal({ auth: { maxTokenAgeSec: bad } })).toThrow(/auth\.maxTokenAgeSec/);
    }
  });
});
