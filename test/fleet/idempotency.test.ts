import { afterEach, describe, expect, it } from 'vitest';
import { ServicePortal, type InjectResponse } from '../../src/index.js';
import { tempDir, TEST_SECRET } from '../helpers.js';
import { checkRedis, dropKeys, fleetName, REDIS_URL, REQUIRE_REDIS } from './helpers.js';

const hasRedis = await checkRedis('idempotency across a fleet');

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Two portals of one fleet (same name, same Redis), each with its own dataDir, sharing one side-effect log. */
function fleet(handlerMs: number): { portals: ServicePortal[]; effects: string[] } {
  const name = fleetName();
  const effects: string[] = [];
  const portals: ServicePortal[] = [];
  for (const instance of ['a', 'b']) {
    const { dir, cleanup } = tempDir(`gatehouse-idem-fleet-${instance}-`);
    const portal = new ServicePortal({
      name,
      dataDir: dir,
      requestLog: false,
      enforce: 'off',
      auth: { secret: TEST_SECRET },
      redis: REDIS_URL,
    });
    portal.endpoint('/api/transfer', { gate: { auth: 'none', idempotency: { ttlSec: 60 } } }, async () => {
      effects.push(instance);
      await new Promise((r) => setTimeout(r, handlerMs));
      return { by: instance, n: effects.length };
    });
    portals.push(portal);
    cleanups.push(cleanup, () => portal.close({ timeoutMs: 2000 }));
  }
  cleanups.push(() => dropKeys(REDIS_URL, name));
  return { portals, effects };
}

function transfer(portal: ServicePortal, key: string, amount = 10): Promise<InjectResponse> {
  return portal.inject({
    method: 'POST',
    url: '/api/transfer',
    headers: { 'idempotency-key': key },
    payload: { amount },
  });
}

describe.skipIf(!hasRedis && !REQUIRE_REDIS)('idempotency across a fleet (real Redis)', () => {
  it('runs the handler once fleet-wide under concurrent duplicates on two instances', async () => {
    const { portals, effects } = fleet(150);
    const [a, b] = portals as [ServicePortal, ServicePortal];
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => transfer(i % 2 === 0 ? a : b, 'tx-1')));
    expect(effects).toHaveLength(1);
    const ok = answers.filter((r) => r.statusCode === 200);
    const busy = answers.filter((r) => r.statusCode === 409);
    expect(ok).toHaveLength(1);
    expect(busy).toHaveLength(11);
    for (const r of busy) expect(r.json()).toMatchObject({ code: 'ERR_IDEMPOTENCY_IN_FLIGHT' });

    // Once done, either instance replays the same answer.
    for (const p of [a, b]) {
      const again = await transfer(p, 'tx-1');
      expect(again.statusCode).toBe(200);
      expect(again.body).toBe(ok[0]!.body);
      expect(again.headers['idempotency-replayed']).toBe('true');
    }
    // The other instance refuses the key with another body, and a new key runs once more.
    expect((await transfer(b, 'tx-1', 99)).statusCode).toBe(422);
    expect((await transfer(b, 'tx-2')).statusCode).toBe(200);
    expect(effects).toHaveLength(2);
  });
});
