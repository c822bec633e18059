import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { makePortal } from '../helpers.js';

/** A local OpenID-style JWKS endpoint whose key set the test rotates; counts its fetches. */
async function jwksServer(): Promise<{ url: string; keys: JWK[]; hits: () => number; close: () => Promise<void> }> {
  const keys: JWK[] = [];
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits++;
    const body = JSON.stringify({ keys });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    keys,
    hits: () => hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function signer(kid: string): Promise<{ jwk: JWK; sign: (sub: string) => Promise<string> }> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    jwk,
    sign: (sub) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid })
        .setSubject(sub)
        .setExpirationTime('5m')
        .sign(privateKey),
  };
}

describe('Hardening: auth.jwks key rotation', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function portalOn(jwks: string, extra: Record<string, number> = {}) {
    const made = makePortal({ auth: { jwks, algorithms: ['RS256'], ...extra } });
    let calls = 0;
    made.portal.endpoint('/api/me', { method: 'GET', description: 'Me', gate: { auth: 'bearer' } }, ({ identity }) => {
      calls++;
      return { id: identity?.id };
    });
    await made.start();
    cleanups.push(made.stop);
    const get = async (token: string): Promise<number> =>
      (await fetch(made.url('/api/me'), { headers: { authorization: `Bearer ${token}` } })).status;
    return { get, calls: () => calls };
  }

  /** Present `token` every 100 ms until accepted; the ms it took. */
  async function acceptedAfter(get: (t: string) => Promise<number>, token: string, limitMs: number): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < limitMs) {
      if ((await get(token)) === 200) return Date.now() - started;
      await new Promise((r) => setTimeout(r, 100));
    }
    return Number.POSITIVE_INFINITY;
  }

  it('accepts a key the provider starts publishing within 5 s (default cooldown 2 s), and a flood of unknown kids costs one fetch per cooldown', async () => {
    const idp = await jwksServer();
    cleanups.push(idp.close);
    const k1 = await signer('k1');
    idp.keys.push(k1.jwk);
    const p = await portalOn(idp.url);
    expect(await p.get(await k1.sign('alice'))).toBe(200);
    // The provider rotates: k2 appears right after the portal fetched the set.
    const k2 = await signer('k2');
    idp.keys.push(k2.jwk);
    const token = await k2.sign('bob');
    const took = await acceptedAfter(p.get, token, 8000);
    console.log(`[hardening] a rotated JWKS key was accepted after ${took} ms (default jwksCooldownMs 2000)`);
    expect(took).toBeLessThanOrEqual(5000);
    // Tokens with made-up key ids, 2 s of them: the provider is asked at most once per 2 s.
    const before = idp.hits();
    const forged = await signer('nope');
    const started = Date.now();
    let refused = 0;
    while (Date.now() - started < 2000) {
      const status = await p.get(await forged.sign(`x${refused}`));
      expect(status).toBe(401);
      refused++;
    }
    expect(refused).toBeGreaterThan(20);
    expect(idp.hits() - before).toBeLessThanOrEqual(2);
    // Nothing else changed: the old and new keys both still verify.
    expect(await p.get(await k1.sign('alice'))).toBe(200);
    expect(await p.get(await k2.sign('bob'))).toBe(200);
  }, 30_000);

  it('jwksCooldownMs is configurable: jose’s 30 s makes a rotated key wait', async () => {
    const idp = await jwksServer();
    cleanups.push(idp.close);
    const k1 = await signer('k1');
    idp.keys.push(k1.jwk);
    const p = await portalOn(idp.url, { jwksCooldownMs: 30_000 });
    expect(await p.get(await k1.sign('alice'))).toBe(200);
    const k2 = await signer('k2');
    idp.keys.push(k2.jwk);
    expect(await acceptedAfter(p.get, await k2.sign('bob'), 2500)).toBe(Number.POSITIVE_INFINITY);
  }, 30_000);

  it('refuses bad timing options at construction', () => {
    expect(() => makePortal({ auth: { jwks: 'http://127.0.0.1:1/jwks', jwksCooldownMs: -1 } })).toThrow(
      /auth\.jwksCooldownMs/,
    );
    expect(() => makePortal({ auth: { jwks: 'http://127.0.0.1:1/jwks', jwksCacheMaxAgeMs: 1.5 } })).toThrow(
      /auth\.jwksCacheMaxAgeMs/,
    );
  });
});
