import { z, type ZodType } from 'zod';
import type { GateConfig } from './gates/types.js';

/** Options for the OpenAPI document served by the portal. */
export interface OpenApiOptions {
  /** Where the document is served. @defaultValue '/openapi.json' */
  path?: string;
  /** Document title. @defaultValue the portal's name */
  title?: string;
  /** API version. @defaultValue '1.0.0' */
  version?: string;
  /** Description shown by documentation viewers. */
  description?: string;
}

/** What the portal knows about one endpoint method, for documentation. */
export interface OpenApiRoute {
  method: string;
  path: string;
  description: string | undefined;
  tags: readonly string[] | undefined;
  gate: GateConfig;
  input: ZodType | undefined;
  output: ZodType | undefined;
}

type JsonSchema = Record<string, unknown> & { properties?: Record<string, unknown>; required?: string[] };

function toSchema(schema: ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  delete out.$schema;
  return out;
}

const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'RFC 9457 problem details',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

function problem(description: string): Record<string, unknown> {
  return { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
}

const SECURITY: Readonly<Record<string, Array<Record<string, string[]>>>> = {
  bearer: [{ bearerAuth: [] }],
  apiKey: [{ apiKeyAuth: [] }],
  basic: [{ basicAuth: [] }],
  any: [{ bearerAuth: [] }, { apiKeyAuth: [] }, { basicAuth: [] }],
  none: [],
};

/** `/notes/:id` becomes `/notes/{id}`. */
function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const converted = path.replace(/:([A-Za-z0-9_]+)(\([^)]*\))?/g, (_m, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: converted, params };
}

/** Build an OpenAPI 3.1 document from the registered endpoints' zod schemas. */
export function buildOpenApi(name: string, options: OpenApiOptions, routes: readonly OpenApiRoute[], apiKeyHeader = 'X-API-Key'): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const { path, params } = openApiPath(route.path);
    const auth = route.gate.auth ?? 'bearer';
    const inputSchema = route.input ? toSchema(route.input, 'input') : undefined;
    const properties = inputSchema?.properties ?? {};
    const required = new Set(inputSchema?.required ?? []);
    const parameters: Array<Record<string, unknown>> = params.map((p) => ({ name: p, in: 'path', required: true, schema: properties[p] ?? { type: 'string' } }));
    const bodyless = route.method === 'GET' || route.method === 'DELETE';
    let requestBody: Record<string, unknown> | undefined;
    if (inputSchema && bodyless) {
      for (const [key, schema] of Object.entries(properties)) {
        if (!params.includes(key)) parameters.push({ name: key, in: 'query', required: required.has(key), schema });
      }
    } else if (inputSchema) {
      const body: JsonSchema = { ...inputSchema };
      if (params.length > 0 && body.properties) {
        body.properties = Object.fromEntries(Object.entries(body.properties).filter(([k]) => !params.includes(k)));
        if (body.required) body.required = body.required.filter((k) => !params.includes(k));
      }
      requestBody = { required: true, content: { 'application/json': { schema: body } } };
    }
    const responses: Record<string, unknown> = {
      '200': {
        description: 'Success',
        content: { 'application/json': { schema: route.output ? toSchema(route.output, 'output') : {} } },
      },
      '400': problem('Malformed or invalid input'),
    };
    if (auth !== 'none') {
      responses['401'] = problem('Missing or invalid credentials');
      if (route.gate.scopes && route.gate.scopes.length > 0) responses['403'] = problem(`Requires scopes: ${route.gate.scopes.join(', ')}`);
    }
    if (route.gate.rateLimit) responses['429'] = problem('Rate limited; see Retry-After');
    responses['500'] = problem('Unexpected server error');
    responses['503'] = problem('Service not active (lifecycle); see Retry-After');
    const operation: Record<string, unknown> = {
      operationId: `${route.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: route.description,
      tags: route.tags ? [...route.tags] : undefined,
      security: SECURITY[auth],
      parameters: parameters.length > 0 ? parameters : undefined,
      requestBody,
      responses,
    };
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: options.title ?? name, version: options.version ?? '1.0.0', description: options.description },
    paths,
    components: {
      schemas: { Problem: PROBLEM_SCHEMA },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        apiKeyAuth: { type: 'apiKey', in: 'header', name: apiKeyHeader },
        basicAuth: { type: 'http', scheme: 'basic' },
      },
    },
  };
}
