import type { Socket as ClientSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, REQUIRE_REDIS, checkRedis, dropKeys, fleetName, until } from './helpers.js';
import { startInstance, type FleetChild } from './processes.js';

const available = await checkRedis('the three-portal fleet tests');

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

describe.skipIf(!available && !REQUIRE_REDIS)('a fleet of three portal processes on one Redis', () => {
  const name = fleetName();
  let fleet: FleetChild[] = [];

  beforeAll(async () => {
    if (!available) return;
    fleet = await Promise.all([0, 1, 2].map(() => startInstance(name, REDIS_URL)));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(fleet.map((c) => c.kill()));
    await dropKeys(REDIS_URL, name);
  });

  it('requires Redis when GATEHOUSE_REQUIRE_REDIS=1', () => {
    expect(available).toBe(true);
  });

  async function spread(path: string, headers: Record<string, string> = {}): Promise<number[]> {
    return Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        fetch(`${fleet[i % 3]!.url}${path}`, { headers }).then(async (r) => (await r.arrayBuffer(), r.status)),
      ),
    );
  }

  it("lets exactly 100 of 300 concurrent requests through a 100-point by: 'endpoint' limit spread over the three", async () => {
    const statuses = await spread('/api/endpoint');
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.filter((s) => s === 429)).toHaveLength(200);
  });

  it("lets exactly 100 of 300 through a by: 'user' limit, and another user keeps their own budget", async () => {
    const { token } = await fleet[0]!.ctl<{ token: string }>('/ctl/issue', { sub: 'user-a' });
    const statuses = await spread('/api/user', { authorization: `Bearer ${token}` });
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.filter((s) => s === 429)).toHaveLength(200);
    const { token: other } = await fleet[1]!.ctl<{ token: string }>('/ctl/issue', { sub: 'user-b' });
    const r = await fetch(`${fleet[2]!.url}/api/user`, { headers: { authorization: `Bearer ${other}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('ratelimit-remaining')).toBe('99');
  });

  it("lets exactly 100 of 300 through a by: 'ip' limit", async () => {
    const statuses = await spread('/api/ip');
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.filter((s) => s === 429)).toHaveLength(200);
  });

  // A 2-core machine shared with other test runs can stall a process for 100 ms; one retry of the whole
  // 50-trial set tells such a stall from a slow fleet.
  it(
    'refuses a token revoked on one instance on the other two and drops their sockets, p99 under 100 ms over 50 trials',
    { timeout: 60_000, retry: 1 },
    async () => {
      const [a, b, c] = fleet as [FleetChild, FleetChild, FleetChild];
      const latencies: number[] = [];
      const observed: number[] = [];
      for (let trial = 0; trial < 50; trial++) {
        const sub = `rev-${trial}`;
        const { token } = await a.ctl<{ token: string }>('/ctl/issue', { sub });
        for (const inst of [b, c])
          expect((await fetch(`${inst.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(
            200,
          );
        const sockets: ClientSocket[] = [await b.connect(token), await c.connect(token)];
        const t0 = performance.now();
        const dropped = sockets.map(
          (s) => new Promise<number>((resolve) => s.once('disconnect', () => resolve(performance.now() - t0))),
        );
        const { at } = await a.ctl<{ at: number }>('/ctl/revoke', { token });
        // Seen by this test process: includes its own scheduling among four busy processes.
        observed.push(Math.max(...(await Promise.all(dropped))));
        for (const inst of [b, c]) {
          const r = await fetch(`${inst.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
          expect([r.status, ((await r.json()) as { code?: string }).code]).toEqual([401, 'ERR_AUTH_REVOKED']);
        }
        // On the instances themselves: from the revoke call on A to the moment B and C acted on it.
        const when = await Promise.all([b, c].map((inst) => inst.ctl<{ at: number | null }>('/ctl/dropped', { sub })));
        latencies.push(Math.max(...when.map((w) => (w.at ?? Infinity) - at)));
      }
      const p50 = quantile(latencies, 0.5);
      const p99 = quantile(latencies, 0.99);
      console.info(
        `[fleet] revocation reaching 2 instances: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms on the instances; ` +
          `as seen by the test client (socket disconnect): p50 ${quantile(observed, 0.5).toFixed(1)} ms, p99 ${quantile(observed, 0.99).toFixed(1)} ms (50 trials)`,
      );
      expect(p99).toBeLessThan(100);
      expect(Math.max(...observed)).toBeLessThan(2000);
    },
  );

  it('delivers sendToUser, sendToGroup and broadcast from one instance to sockets connected to the others', async () => {
    const [a, b, c] = fleet as [FleetChild, FleetChild, FleetChild];
    const { token } = await a.ctl<{ token: string }>('/ctl/issue', { sub: 'rt-42' });
    const { token: otherToken } = await a.ctl<{ token: string }>('/ctl/issue', { sub: 'rt-7' });
    const onB = await b.connect(token);
    const onC = await c.connect(token);
    const other = await c.connect(otherToken);
    const got = new Map<ClientSocket, string[]>([
      [onB, []],
      [onC, []],
      [other, []],
    ]);
    for (const [s, list] of got)
      for (const ev of ['dm', 'team', 'all']) s.on(ev, (p: { n: number }) => list.push(`${ev}:${p.n}`));
    await a.ctl('/ctl/send', { kind: 'user', target: 'rt-42', event: 'dm', payload: { n: 1 } });
    const joined = await a.ctl<{ joined: number; members: string[] }>('/ctl/send', {
      kind: 'join',
      target: 'rt-42',
      event: 'team-x',
      payload: null,
    });
    expect(joined).toEqual({ joined: 2, members: ['rt-42'] });
    await a.ctl('/ctl/send', { kind: 'group', target: 'team-x', event: 'team', payload: { n: 2 } });
    await a.ctl('/ctl/send', { kind: 'broadcast', event: 'all', payload: { n: 3 } });
    await until(
      () => got.get(onB)!.length === 3 && got.get(onC)!.length === 3 && got.get(other)!.length === 1,
      3000,
      'cross-instance deliveries',
    );
    expect(got.get(onB)).toEqual(['dm:1', 'team:2', 'all:3']);
    expect(got.get(onC)).toEqual(['dm:1', 'team:2', 'all:3']);
    expect(got.get(other)).toEqual(['all:3']);
  });

  it('gates all three within 1 s when one sets the lifecycle, and reopens them together', async () => {
    const [a, b, c] = fleet as [FleetChild, FleetChild, FleetChild];
    const t0 = performance.now();
    await b.ctl('/ctl/lifecycle', { state: 'MAINTENANCE' });
    const gated = await Promise.all(
      [a, b, c].map(async (inst) => {
        for (;;) {
          const r = await fetch(`${inst.url}/api/hello`);
          await r.arrayBuffer();
          if (r.status === 503) return performance.now() - t0;
          if (performance.now() - t0 > 3000) throw new Error('not gated within 3 s');
        }
      }),
    );
    expect(Math.max(...gated)).toBeLessThan(1000);
    await c.ctl('/ctl/lifecycle', { state: 'ACTIVE' });
    for (const inst of [a, b, c])
      await until(async () => (await fetch(`${inst.url}/api/hello`)).status === 200, 1000, 'ACTIVE again');
  });
});
