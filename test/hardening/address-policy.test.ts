import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type HttpClient } from '../../src/index.js';
import { compileAllowHosts, guardedLookup, isPrivateAddress } from '../../src/client/address-policy.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A real server on 127.0.0.1 that counts what reaches it. */
async function target(): Promise<{ port: number; hits: () => number }> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits++;
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, hits: () => hits };
}

function client(options: Parameters<typeof createClient>[0] = {}): HttpClient {
  const c = createClient({ maxRetries: 0, circuitBreaker: false, ...options });
  cleanups.push(() => c.close());
  return c;
}

describe('Hardening: client address policy', () => {
  it('refuses loopback in every spelling with BLOCKED, resolving localhost for real, and sends nothing', async () => {
    const t = await target();
    const guarded = client({ blockPrivateAddresses: true });
    const urls = [
      `http://localhost:${t.port}/`,
      `http://127.0.0.1:${t.port}/`,
      `http://2130706433:${t.port}/`,
      `http://0x7f.1:${t.port}/`,
      `http://127.1:${t.port}/`,
      `http://[::ffff:127.0.0.1]:${t.port}/`,
      `http://[::1]:${t.port}/`,
      `http://[::]:${t.port}/`,
      `http://0.0.0.0:${t.port}/`,
    ];
    for (const endpoint of urls) {
      const res = await guarded.send({ endpoint, maxRetries: 2, idempotencyKey: 'k' });
      expect(res.ok, endpoint).toBe(false);
      expect(res.error?.code, endpoint).toBe('BLOCKED');
      expect(res.status).toBe(0);
    }
    expect(t.hits()).toBe(0);
    // The same call without the policy reaches the server: the refusals above were the policy's.
    const open = client();
    expect((await open.send({ endpoint: `http://localhost:${t.port}/` })).ok).toBe(true);
    expect(t.hits()).toBe(1);
  });

  it('applies per call and limits hosts with allowHosts, wildcards included', async () => {
    const t = await target();
    const c = client({ allowHosts: ['*.example.com', 'localhost'] });
    expect((await c.send({ endpoint: `http://127.0.0.1:${t.port}/` })).error?.code).toBe('BLOCKED');
    expect((await c.send({ endpoint: `http://localhost:${t.port}/`, blockPrivateAddresses: true })).error?.code).toBe(
      'BLOCKED',
    );
    expect(t.hits()).toBe(0);
    expect((await c.send({ endpoint: `http://LocalHost:${t.port}/` })).ok).toBe(true);
    expect(t.hits()).toBe(1);
    const bad = await client().send({ endpoint: `http://localhost:${t.port}/`, allowHosts: ['a*.example.com'] });
    expect(bad.error?.code).toBe('BAD_REQUEST');
    expect(t.hits()).toBe(1);
  });

  it('matches allowHosts exactly or on subdomains only', () => {
    const m = compileAllowHosts(['api.example.com', '*.svc.internal']);
    expect(typeof m).toBe('function');
    const match = m as (h: string) => boolean;
    expect(match('api.example.com')).toBe(true);
    expect(match('API.Example.COM.')).toBe(true);
    expect(match('x.api.example.com')).toBe(false);
    expect(match('a.svc.internal')).toBe(true);
    expect(match('a.b.svc.internal')).toBe(true);
    expect(match('svc.internal')).toBe(false);
    expect(match('evilsvc.internal')).toBe(false);
    expect(match('svc.internal.evil.com')).toBe(false);
  });

  it('classifies private ranges, including IPv4-mapped and IPv4-compatible forms', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'fc00::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '::7f00:1',
      '[::1]',
    ]) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', 'example.com']) {
      expect(isPrivateAddress(a), a).toBe(false);
    }
  });

  it('checks every resolution, so a name that rebinds to a private address is refused', async () => {
    let n = 0;
    // A resolver whose answer changes between connections, as in DNS rebinding.
    const rebinding = (
      _h: string,
      _o: unknown,
      cb: (err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void,
    ): void => {
      n++;
      cb(
        null,
        n === 1
          ? [{ address: '93.184.216.34', family: 4 }]
          : [
              { address: '127.0.0.1', family: 4 },
              { address: '::ffff:10.0.0.1', family: 6 },
            ],
      );
    };
    const lookup = guardedLookup(rebinding);
    const first = await new Promise<{ err: unknown; address: unknown }>((r) =>
      lookup('rebind.test', { all: true }, (err, address) => r({ err, address })),
    );
    expect(first.err).toBeNull();
    expect(first.address).toEqual([{ address: '93.184.216.34', family: 4 }]);
    const second = await new Promise<{ err: NodeJS.ErrnoException | null }>((r) =>
      lookup('rebind.test', {}, (err) => r({ err })),
    );
    expect(second.err?.code).toBe('ERR_GATEHOUSE_BLOCKED');
  });
});
