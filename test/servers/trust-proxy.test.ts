import { afterEach, describe, expect, it } from 'vitest';
import { GatehouseError, ServicePortal, type PortalOptions } from '../../src/index.js';
import { makePortal, tempDir } from '../helpers.js';

const CHAIN = '198.51.100.7, 203.0.113.5, 10.0.0.2';

describe('ServicePortal trustProxy', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (stops.length) await stops.pop()!();
  });

  /** The client address an endpoint and an express route see for one X-Forwarded-For chain. */
  async function seen(
    trustProxy: PortalOptions['trustProxy'],
    forwardedFor: string | undefined,
  ): Promise<{ endpoint: string; express: string }> {
    const { portal, start, stop, url } = makePortal({ trustProxy });
    stops.push(stop);
    portal.endpoint('/api/ip', { method: 'GET', gate: { auth: 'none' } }, ({ ip }) => ({ ip }));
    portal.app.get('/legacy/ip', (req, res) => {
      res.json({ ip: req.ip });
    });
    await start();
    const headers: Record<string, string> = forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor };
    const endpoint = (await (await fetch(url('/api/ip'), { headers })).json()) as { ip: string };
    const express = (await (await fetch(url('/legacy/ip'), { headers })).json()) as { ip: string };
    return { endpoint: endpoint.ip, express: express.ip };
  }

  it('ignores X-Forwarded-For by default', async () => {
    expect(await seen(undefined, CHAIN)).toEqual({ endpoint: '127.0.0.1', express: '127.0.0.1' });
  });

  it('takes the left-most entry with true', async () => {
    expect(await seen(true, CHAIN)).toEqual({ endpoint: '198.51.100.7', express: '198.51.100.7' });
  });

  it('skips a hop count of trusted proxies from the right', async () => {
    expect(await seen(1, CHAIN)).toEqual({ endpoint: '10.0.0.2', express: '10.0.0.2' });
    expect(await seen(2, CHAIN)).toEqual({ endpoint: '203.0.113.5', express: '203.0.113.5' });
  });

  it("trusts 'loopback' only: the first forwarded hop is the client", async () => {
    expect(await seen('loopback', CHAIN)).toEqual({ endpoint: '10.0.0.2', express: '10.0.0.2' });
  });

  it("walks past 'uniquelocal' and CIDR ranges, as a list or a comma-separated string", async () => {
    expect(await seen(['loopback', 'uniquelocal'], CHAIN)).toEqual({ endpoint: '203.0.113.5', express: '203.0.113.5' });
    expect(await seen('loopback, 10.0.0.0/8, 203.0.113.0/24', CHAIN)).toEqual({
      endpoint: '198.51.100.7',
      express: '198.51.100.7',
    });
  });

  it('answers with the peer when the peer is not a trusted proxy', async () => {
    expect(await seen(['192.0.2.1'], CHAIN)).toEqual({ endpoint: '127.0.0.1', express: '127.0.0.1' });
  });

  it('refuses bad settings at construction, naming the option', () => {
    const { dir, cleanup } = tempDir();
    for (const bad of [-1, 1.5, '10.0.0.0/99', 'not-an-address', ['']] as const) {
      let thrown: unknown;
      try {
        new ServicePortal({ dataDir: dir, requestLog: false, trustProxy: bad as PortalOptions['trustProxy'] });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(GatehouseError);
      expect(thrown).toMatchObject({ code: 'ERR_PORTAL_OPTIONS', message: expect.stringContaining('trustProxy') });
    }
    cleanup();
  });
});
