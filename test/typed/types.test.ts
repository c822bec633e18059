// Type tests: `npm run typecheck` checks every `@ts-expect-error` probe below (an unused one is an error), and
// vitest runs the `expectTypeOf` assertions. The runtime half of each test only keeps vitest from skipping it.
import { describe, expectTypeOf, it } from 'vitest';
import {
  createClient,
  type ServiceErrorResult,
  type ServiceProblem,
  type ServiceProblemResult,
  type ServiceResult,
} from '../../src/client/index.js';
import { defineEndpoint, ServicePortal, z, type Identity } from '../../src/index.js';
import type { routes } from './fixtures/routes.js';

/** Never called: the probes live in function bodies the type checker reads. */
function neverRun(_fn: () => unknown): void {}

describe('identity typed by the gate', () => {
  it('is non-null on the default gate and on every auth mode but none, null on none (portal.endpoint)', () => {
    neverRun(() => {
      const portal = new ServicePortal();
      portal.endpoint('/a', {}, ({ identity }) => {
        expectTypeOf(identity).toEqualTypeOf<Identity>();
        return identity.id;
      });
      portal.endpoint('/b', { gate: { scopes: ['x'] } }, ({ identity }) => {
        expectTypeOf(identity).toEqualTypeOf<Identity>();
      });
      for (const auth of ['bearer', 'apiKey', 'basic', 'any'] as const) {
        portal.endpoint(`/${auth}`, { gate: { auth } }, ({ identity }) => {
          expectTypeOf(identity).toEqualTypeOf<Identity>();
        });
      }
      portal.endpoint('/c', { gate: { auth: 'none' } }, ({ identity }) => {
        expectTypeOf(identity).toEqualTypeOf<null>();
        // @ts-expect-error no caller on auth: 'none'
        return identity.id;
      });
      // A mode only known at run time: either.
      const mode = process.env.MODE === 'open' ? ('none' as const) : ('bearer' as const);
      portal.endpoint('/d', { gate: { auth: mode } }, ({ identity }) => {
        expectTypeOf(identity).toEqualTypeOf<Identity | null>();
      });
    });
  });

  it('is non-null or null the same way in defineEndpoint and portal.onEvent', () => {
    neverRun(() => {
      defineEndpoint({ path: '/a', input: z.object({ n: z.number() }) }, ({ identity, input }) => {
        expectTypeOf(identity).toEqualTypeOf<Identity>();
        expectTypeOf(input).toEqualTypeOf<{ n: number }>();
      });
      defineEndpoint({ path: '/b', gate: { auth: 'none' } }, ({ identity }) => {
        expectTypeOf(identity).toEqualTypeOf<null>();
      });
      const portal = new ServicePortal({ websocket: true });
      portal.onEvent('e', {}, ({ identity }) => {
        expectTypeOf(identity).toEqualTypeOf<Identity>();
      });
      portal.onEvent('f', { gate: { auth: 'apiKey' } }, ({ identity }) => identity.scopes);
      portal.onEvent('g', { gate: { auth: 'none' } }, ({ identity }) => {
        expectTypeOf(identity).toEqualTypeOf<null>();
        // @ts-expect-error no caller on auth: 'none'
        return identity.scopes;
      });
    });
  });
});

describe('typed client', () => {
  it('types each route call by its input and output schemas', () => {
    neverRun(async () => {
      const notes = createClient<typeof routes>({ baseUrl: 'http://notes' });
      expectTypeOf(notes.greet).parameter(0).toEqualTypeOf<{ name: string }>();
      const r = await notes.greet({ name: 'Ada' });
      expectTypeOf(r).toEqualTypeOf<ServiceResult<{ message: string }>>();
      // @ts-expect-error name must be a string
      await notes.greet({ name: 7 });
      // @ts-expect-error name is required
      await notes.greet({});
      // @ts-expect-error the input is required when the schema has a required field
      await notes.greet();
      const p = await notes.pay({ amount: 5 }, { idempotencyKey: 'order-1' });
      if (p.ok) expectTypeOf(p.data).toEqualTypeOf<{ payment: number; amount: number }>();
      // A route without an output schema: unknown data; without an input schema: an optional object.
      const l = await notes.loose();
      if (l.ok) expectTypeOf(l.data).toEqualTypeOf<unknown>();
    });
  });

  it('refuses unknown route keys', () => {
    neverRun(async () => {
      const notes = createClient<typeof routes>({ baseUrl: 'http://notes' });
      // @ts-expect-error no such route
      await notes.remove({ id: 1 });
      // @ts-expect-error no such route
      void notes.greeting;
    });
  });

  it('gives data only after ok, and a typed problem on every failure', () => {
    neverRun(async () => {
      const notes = createClient<typeof routes>({ baseUrl: 'http://notes' });
      const r = await notes.note({ id: 7 });
      // @ts-expect-error data exists only on a success
      void r.data.text;
      if (r.ok) {
        expectTypeOf(r.data).toEqualTypeOf<{ id: number; text: string }>();
        // @ts-expect-error no problem on a success
        void r.problem;
      } else {
        expectTypeOf(r.problem).toEqualTypeOf<ServiceProblem>();
        expectTypeOf(r.problem.code).toEqualTypeOf<string>();
        expectTypeOf(r).toEqualTypeOf<ServiceProblemResult | ServiceErrorResult>();
        if (r.error !== null) expectTypeOf(r).toEqualTypeOf<ServiceErrorResult>();
      }
    });
  });

  it('keeps createClient(options) an HttpClient and types createClient(routes, options) the same way', () => {
    neverRun(async () => {
      const plain = createClient({ baseUrl: 'http://x' });
      await plain.send({ endpoint: '/x' });
      // @ts-expect-error a plain client has no route methods
      await plain.greet({ name: 'x' });
      const { routes: values } = await import('./fixtures/routes.js');
      const validated = createClient(values, { baseUrl: 'http://x' });
      const r = await validated.note({ id: 1 });
      if (r.ok) expectTypeOf(r.data.text).toEqualTypeOf<string>();
      // @ts-expect-error no such route
      await validated.nope();
    });
  });

  it('refuses route definitions with a key the client keeps for itself', () => {
    neverRun(() => {
      const clash = { send: defineEndpoint({ path: '/s', gate: { auth: 'none' } }, () => 1) };
      // @ts-expect-error `send` is an HttpClient member
      createClient<typeof clash>({ baseUrl: 'http://x' });
      // @ts-expect-error the same with the definitions in hand
      createClient(clash, { baseUrl: 'http://x' });
    });
  });
});
