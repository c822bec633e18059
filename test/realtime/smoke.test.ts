import { afterEach, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { startRealtime, type RealtimeFixture } from './helpers.js';

let f: RealtimeFixture;
afterEach(async () => f?.stop());

describe('smoke', () => {
  it('connects and acks', async () => {
    f = await startRealtime();
    f.portal.onEvent('add', { input: z.object({ a: z.number(), b: z.number() }) }, ({ input, identity }) => ({ sum: input.a + input.b, who: identity?.id }));
    const c = await f.connect(await f.token('42'));
    expect(await c.emitWithAck('add', { a: 1, b: 2 })).toEqual({ sum: 3, who: '42' });
    expect(await c.emitWithAck('add', { a: 'x' })).toMatchObject({ error: { code: 'ERR_VALIDATION' } });
  });
});
