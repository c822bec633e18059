import { afterEach, describe, expect, it } from 'vitest';
import { defineEndpoint, GatehouseError, z } from '../../src/index.js';
import { makePortal } from '../helpers.js';

type Made = ReturnType<typeof makePortal>;
const made: Made[] = [];
afterEach(async () => {
  for (const m of made.splice(0)) await m.stop();
});

function portal(): Made {
  const m = makePortal({ name: 'register' });
  made.push(m);
  return m;
}

function refusal(fn: () => unknown): GatehouseError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatehouseError);
    return err as GatehouseError;
  }
  throw new Error('expected register() to throw');
}

const open = { auth: 'none' } as const;
const hello = defineEndpoint({ path: '/api/hello', method: 'GET', gate: open }, () => ({ hello: true }));
const echo = defineEndpoint({ path: '/api/echo', gate: open, input: z.object({ text: z.string() }) }, ({ input }) => ({
  text: input.text,
}));

describe('ServicePortal.register', () => {
  it('registers an object of definitions, its keys as the OpenAPI operationIds', async () => {
    const { portal: p } = portal();
    const list = p.register({ hello, echo });
    expect(list).toEqual([
      { method: 'GET', path: '/api/hello', file: '', exportName: 'hello' },
      { method: 'POST', path: '/api/echo', file: '', exportName: 'echo' },
    ]);
    expect((await p.inject({ url: '/api/hello' })).json()).toEqual({ hello: true });
    const res = await p.inject({ method: 'POST', url: '/api/echo', payload: { text: 'hi' } });
    expect(res.json()).toEqual({ text: 'hi' });
    const doc = (await p.inject({ url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { operationId: string }>>;
    }>();
    expect(doc.paths['/api/hello']!.get!.operationId).toBe('hello');
    expect(doc.paths['/api/echo']!.post!.operationId).toBe('echo');
  });

  it('registers an array of definitions', async () => {
    const { portal: p } = portal();
    p.register([hello, echo]);
    expect((await p.inject({ url: '/api/hello' })).statusCode).toBe(200);
    const doc = (await p.inject({ url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { operationId: string }>>;
    }>();
    expect(doc.paths['/api/hello']!.get!.operationId).toBe('getApiHello');
  });

  it('refuses duplicates within the batch and against registered routes, registering nothing', async () => {
    const { portal: p } = portal();
    const twin = defineEndpoint({ path: '/api/hello', method: 'GET', gate: open }, () => ({ twin: true }));
    const inBatch = refusal(() => p.register({ echo, hello, twin }));
    expect(inBatch.code).toBe('ERR_ENDPOINT_DUPLICATE');
    expect(inBatch.message).toContain('GET /api/hello is defined twice: in routes.hello');
    expect(inBatch.message).toContain('routes.twin');
    expect((await p.inject({ method: 'POST', url: '/api/echo', payload: { text: 'x' } })).statusCode).toBe(404);

    p.endpoint('/api/hello', { method: 'GET', gate: open }, () => ({ first: true }));
    const taken = refusal(() => p.register([echo, twin]));
    expect(taken.code).toBe('ERR_ENDPOINT_DUPLICATE');
    expect((await p.inject({ method: 'POST', url: '/api/echo', payload: { text: 'x' } })).statusCode).toBe(404);
    expect((await p.inject({ url: '/api/hello' })).json()).toEqual({ first: true });
  });

  it('refuses a key an earlier register used, a reserved or odd key, and values not made by defineEndpoint', async () => {
    const { portal: p } = portal();
    p.register({ hello });
    const other = defineEndpoint({ path: '/api/other', method: 'GET', gate: open }, () => 1);
    expect(refusal(() => p.register({ hello: other })).code).toBe('ERR_ENDPOINT_DUPLICATE');
    expect(refusal(() => p.register({ send: other })).code).toBe('ERR_ENDPOINT_CONFIG');
    expect(refusal(() => p.register({ 'a-b': other })).code).toBe('ERR_ENDPOINT_CONFIG');
    const notMade = refusal(() => p.register({ other, raw: { path: '/x' } } as never));
    expect(notMade.code).toBe('ERR_ENDPOINT_CONFIG');
    expect(notMade.message).toContain('routes.raw is not made by defineEndpoint()');
    expect(refusal(() => p.register({})).code).toBe('ERR_ENDPOINT_CONFIG');
    expect(refusal(() => p.register(null as never)).code).toBe('ERR_ENDPOINT_CONFIG');
    expect((await p.inject({ url: '/api/other' })).statusCode).toBe(404);
  });

  it('refuses the whole batch when one definition is invalid, keeping its gate error code', async () => {
    const { portal: p } = portal();
    const bad = defineEndpoint({ path: '/api/bad', gate: { auth: 'none', idempotency: { ttlSec: 0 } } }, () => 1);
    const err = refusal(() => p.register({ hello, bad }));
    expect(err.code).toBe('ERR_GATE_CONFIG');
    expect(err.message).toContain('register: routes.bad');
    expect(err.message).toContain('ttlSec');
    expect((await p.inject({ url: '/api/hello' })).statusCode).toBe(404);
  });
});
