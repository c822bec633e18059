import type { ZodType } from 'zod';
import type { AuthMode, GateConfig } from './gates/types.js';
import type { UploadConfig } from './uploads/index.js';
import { SchemaBook, isNothing, objectShape, withoutKeys, type Json, type SchemaIo } from './openapi-schemas.js';

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

/** What the portal knows about one route method, for documentation. */
export interface OpenApiRoute {
  method: string;
  /** The route's path as registered (find-my-way syntax for endpoints, express syntax for express routes). */
  path: string;
  description: string | undefined;
  tags: readonly string[] | undefined;
  gate: GateConfig;
  input: ZodType | undefined;
  output: ZodType | undefined;
  /** The declared success status (`EndpointConfig.status`). @defaultValue 200, or 204 for a `z.void()` output */
  status?: number | undefined;
  /** The operation's id: the route's key when registered with `portal.register(routes)`. @defaultValue made from the method and path */
  operationId?: string | undefined;
  /** An endpoint (schemas and body known) or an express route behind `portal.gate()` (only its gate is known). @defaultValue 'endpoint' */
  source?: 'endpoint' | 'express';
  /** The endpoint's `upload` option: its body is `multipart/form-data` with binary file fields. */
  upload?: UploadConfig | undefined;
  /** A `portal.stream()` route: its success answer is `text/event-stream`. @defaultValue false */
  stream?: boolean;
}

/** The portal's credential setup, for the security schemes. */
export interface OpenApiAuth {
  /** Header carrying API keys. @defaultValue 'X-API-Key' */
  apiKeyHeader?: string;
  /** Whether API keys are configured (`auth: 'any'` accepts them then). @defaultValue false */
  apiKeys?: boolean;
  /** Whether basic auth is configured (`auth: 'any'` accepts it then). @defaultValue false */
  basic?: boolean;
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
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

const PROBLEM_CONTENT = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
const RETRY_AFTER = { description: 'Seconds until a retry makes sense', schema: { type: 'integer', minimum: 0 } };

/** The shared error responses, one component each; operations refer to them by `$ref`. */
const RESPONSES: Readonly<Record<string, Json>> = {
  BadRequest: {
    description: 'Malformed JSON or input that fails the schema (`errors` lists the fields)',
    content: PROBLEM_CONTENT,
  },
  Unauthorized: {
    description: 'Missing or invalid credentials',
    headers: {
      'WWW-Authenticate': { description: 'The challenge for the accepted scheme', schema: { type: 'string' } },
    },
    content: PROBLEM_CONTENT,
  },
  Forbidden: { description: 'The caller lacks a required scope', content: PROBLEM_CONTENT },
  NotFound: { description: 'The resource does not exist', content: PROBLEM_CONTENT },
  PayloadTooLarge: { description: 'The body is over the size limit', content: PROBLEM_CONTENT },
  UnsupportedMediaType: {
    description: 'The body is neither JSON nor a form, or uses an unsupported encoding',
    content: PROBLEM_CONTENT,
  },
  TooManyRequests: {
    description: 'Rate limited',
    headers: {
      'Retry-After': RETRY_AFTER,
      'RateLimit-Limit': { description: 'Requests allowed per window', schema: { type: 'integer' } },
      'RateLimit-Remaining': { description: 'Requests left in the window', schema: { type: 'integer' } },
      'RateLimit-Reset': { description: 'Seconds until the window resets', schema: { type: 'integer' } },
    },
    content: PROBLEM_CONTENT,
  },
  InternalServerError: {
    description: 'Unexpected server error (the detail names only the request id)',
    content: PROBLEM_CONTENT,
  },
  ServiceUnavailable: {
    description:
      'The service is not ACTIVE (lifecycle): code SERVICE_PAUSED, SERVICE_MAINTENANCE, SERVICE_OFFLINE or SERVICE_FAILED; browsers get an HTML page',
    headers: { 'Retry-After': RETRY_AFTER },
    content: { ...PROBLEM_CONTENT, 'text/html': { schema: { type: 'string' } } },
  },
};

/** The answers of idempotent routes: listed among the components only when a route declares `idempotency`. */
const IDEMPOTENCY_RESPONSES: Readonly<Record<string, Json>> = {
  IdempotencyInFlight: {
    description: 'A request with the same Idempotency-Key is still running (ERR_IDEMPOTENCY_IN_FLIGHT)',
    headers: { 'Retry-After': RETRY_AFTER },
    content: PROBLEM_CONTENT,
  },
  IdempotencyMismatch: {
    description: 'The Idempotency-Key was used with a different request (ERR_IDEMPOTENCY_MISMATCH)',
    content: PROBLEM_CONTENT,
  },
};

const SCHEMES: Readonly<Record<'bearerAuth' | 'apiKeyAuth' | 'basicAuth', (auth: OpenApiAuth) => Json>> = {
  bearerAuth: () => ({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
  apiKeyAuth: (auth) => ({ type: 'apiKey', in: 'header', name: auth.apiKeyHeader ?? 'X-API-Key' }),
  basicAuth: () => ({ type: 'http', scheme: 'basic' }),
};

type SchemeName = keyof typeof SCHEMES;

function schemesFor(mode: AuthMode, auth: OpenApiAuth): SchemeName[] {
  switch (mode) {
    case 'none':
      return [];
    case 'bearer':
      return ['bearerAuth'];
    case 'apiKey':
      return ['apiKeyAuth'];
    case 'basic':
      return ['basicAuth'];
    case 'any':
      return [
        'bearerAuth',
        ...(auth.apiKeys ? (['apiKeyAuth'] as const) : []),
        ...(auth.basic ? (['basicAuth'] as const) : []),
      ];
  }
}

/** A path in OpenAPI form with its parameter names: `/notes/:id` (find-my-way) or express's `:id` / `*rest` become `{id}`. */
function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const converted = path.replace(/[:*]([A-Za-z0-9_]+)(\([^)]*\))?/g, (_m, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: converted, params };
}

/** Express 5 paths mark optional parts with braces (`/files{/:name}`): one path per combination. */
export function expandOptional(path: string): string[] {
  const open = path.indexOf('{');
  if (open === -1) return [path];
  let depth = 0;
  for (let i = open; i < path.length; i++) {
    if (path[i] === '{') depth++;
    else if (path[i] === '}' && --depth === 0) {
      const before = path.slice(0, open);
      const after = path.slice(i + 1);
      return [...expandOptional(before + after), ...expandOptional(before + path.slice(open + 1, i) + after)];
    }
  }
  return [path];
}

function operationId(method: string, path: string): string {
  return `${method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`;
}

const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

interface Slot {
  route: OpenApiRoute;
  path: string;
  params: string[];
  id: string;
  input: Json | undefined;
  output: Json | undefined;
}

/**
 * Build an OpenAPI 3.1 document from the registered routes: endpoints with their zod schemas (shared schemas as
 * `components.schemas`), the success status each declares, the problem+json errors each can give (shared
 * `components.responses`), query and path parameters, and the security schemes in use. Express routes behind
 * `portal.gate()` are listed with what their gate says.
 */
export function buildOpenApi(
  name: string,
  options: OpenApiOptions,
  routes: readonly OpenApiRoute[],
  auth: OpenApiAuth = {},
): Record<string, unknown> {
  const book = new SchemaBook(new Set(['Problem']));
  for (const route of routes) {
    if (route.input) book.use(route.input, 'input');
    if (route.output) book.use(route.output, 'output');
  }
  const slots: Slot[] = [];
  const seen = new Set<string>();
  // Endpoints first: an express route at the same method and path never runs (the endpoint answers it).
  const ordered = [...routes.filter((r) => r.source !== 'express'), ...routes.filter((r) => r.source === 'express')];
  for (const route of ordered) {
    const variants = route.source === 'express' ? expandOptional(route.path) : [route.path];
    for (const variant of variants) {
      const { path, params } = openApiPath(variant);
      const key = `${route.method} ${path}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const id = route.operationId ?? operationId(route.method, path);
      const slot = (schema: ZodType | undefined, io: SchemaIo): Json | undefined =>
        schema ? book.schema(schema, io, `${id}${io === 'input' ? 'Input' : 'Output'}`) : undefined;
      slots.push({ route, path, params, id, input: slot(route.input, 'input'), output: slot(route.output, 'output') });
    }
  }
  const schemas = book.finish();

  const used = new Set<SchemeName>();
  let idempotent = false;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const slot of slots) {
    const { route, params } = slot;
    const express = route.source === 'express';
    const method = route.method.toUpperCase();
    const input = slot.input ? (book.resolve(slot.input) as Json) : undefined;
    const output = slot.output ? (book.resolve(slot.output) as Json) : undefined;
    const shape = input ? objectShape(input, schemas) : undefined;
    const parameters: Json[] = params.map((p) =>
      param(p, 'path', true, shape?.properties.get(p)?.schema ?? { type: 'string' }),
    );
    const hasBody = !express && BODY_METHODS.has(method);
    let requestBody: Json | undefined;
    if (hasBody && route.upload) {
      requestBody = multipartBody(route.upload, input ? withoutKeys(input, params, schemas) : undefined);
    } else if (hasBody) {
      requestBody = input
        ? { required: true, content: { 'application/json': { schema: withoutKeys(input, params, schemas) } } }
        : { required: false, content: { 'application/json': { schema: {} } } };
    } else if (shape) {
      for (const [key, p] of shape.properties)
        if (!params.includes(key)) parameters.push(param(key, 'query', p.required, p.schema));
      if (shape.additional)
        parameters.push({
          name: 'query',
          in: 'query',
          required: false,
          style: 'form',
          explode: true,
          schema: { type: 'object', additionalProperties: shape.additional },
        });
    }

    const gate = route.gate;
    const mode = gate.auth ?? 'bearer';
    const scopes = [...(gate.scopes ?? [])];
    const schemes = schemesFor(mode, auth);
    for (const s of schemes) used.add(s);
    const ref = (component: string): Json => ({ $ref: `#/components/responses/${component}` });
    const responses: Record<string, Json> = { ...success(route, output) };
    if (!express && (input !== undefined || hasBody)) responses['400'] = ref('BadRequest');
    if (mode !== 'none') responses['401'] = ref('Unauthorized');
    if (mode !== 'none' && scopes.length > 0)
      responses['403'] = { ...ref('Forbidden'), description: `Requires scopes: ${scopes.join(', ')}` };
    if (params.length > 0) responses['404'] = ref('NotFound');
    if (hasBody) {
      responses['413'] = ref('PayloadTooLarge');
      responses['415'] = ref('UnsupportedMediaType');
    }
    if (gate.rateLimit !== undefined && (!Array.isArray(gate.rateLimit) || gate.rateLimit.length > 0))
      responses['429'] = ref('TooManyRequests');
    const idempotency = express ? undefined : gate.idempotency;
    if (idempotency) {
      idempotent = true;
      parameters.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: idempotency.required === true,
        description: `Runs the request once per key (kept ${idempotency.ttlSec ?? 86_400} s); a repeat gets the stored answer with Idempotency-Replayed: true`,
        schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' },
      });
      responses['400'] ??= ref('BadRequest');
      responses['409'] = ref('IdempotencyInFlight');
      responses['422'] = ref('IdempotencyMismatch');
      for (const [status, response] of Object.entries(responses)) {
        if (!status.startsWith('2')) continue;
        responses[status] = {
          ...response,
          headers: {
            'Idempotency-Replayed': {
              description: 'true when this is the stored answer of an earlier request with the same key',
              schema: { type: 'string', enum: ['true'] },
            },
          },
        };
      }
    }
    responses['500'] = ref('InternalServerError');
    if ((gate.lifecycle ?? 'gated') !== 'exempt') responses['503'] = ref('ServiceUnavailable');

    const operation: Json = { operationId: slot.id };
    if (route.description !== undefined) operation.summary = route.description;
    if (route.tags && route.tags.length > 0) operation.tags = [...route.tags];
    operation.security = schemes.map((s) => ({ [s]: scopes }));
    if (route.stream) parameters.push(LAST_EVENT_ID);
    if (parameters.length > 0) operation.parameters = parameters;
    if (requestBody) operation.requestBody = requestBody;
    operation.responses = responses;
    paths[slot.path] ??= {};
    paths[slot.path]![method.toLowerCase()] = operation;
  }

  const info: Json = { title: options.title ?? name, version: options.version ?? '1.0.0' };
  if (options.description !== undefined) info.description = options.description;
  const securitySchemes: Json = {};
  for (const s of Object.keys(SCHEMES) as SchemeName[]) if (used.has(s)) securitySchemes[s] = SCHEMES[s](auth);
  const components: Json = {
    schemas: { ...schemas, Problem: PROBLEM_SCHEMA },
    responses: idempotent ? { ...RESPONSES, ...IDEMPOTENCY_RESPONSES } : RESPONSES,
  };
  if (Object.keys(securitySchemes).length > 0) components.securitySchemes = securitySchemes;
  return { openapi: '3.1.0', info, paths, components };
}

function param(name: string, where: 'path' | 'query', required: boolean, schema: Json): Json {
  const out: Json = { name, in: where, required, schema };
  if (typeof schema.description === 'string') out.description = schema.description;
  return out;
}

/** The `Last-Event-ID` header a reconnecting event-stream client sends. */
const LAST_EVENT_ID: Json = {
  name: 'Last-Event-ID',
  in: 'header',
  required: false,
  description: 'Id of the last event received: the events after it are replayed (or `event: reset` is sent)',
  schema: { type: 'string' },
};

/** An upload's body: the input's fields beside the files, each a binary string (`encoding` lists the types). */
function multipartBody(upload: UploadConfig, fields: Json | undefined): Json {
  const files: Json = {
    type: 'object',
    properties: {
      file: {
        type: 'array',
        description: `Files, in any field name (at most ${upload.maxFiles ?? 1})`,
        items: { type: 'string', format: 'binary', contentMediaType: 'application/octet-stream' },
      },
    },
  };
  const media: Json = { schema: fields ? { allOf: [fields, files] } : files };
  if (upload.types && upload.types.length > 0) media.encoding = { file: { contentType: upload.types.join(', ') } };
  return { required: true, content: { 'multipart/form-data': media } };
}

function success(route: OpenApiRoute, output: Json | undefined): Record<string, Json> {
  if (route.stream)
    return {
      '200': {
        description:
          'A stream of server-sent events: each has an `id`, an `event` name and JSON `data`; `event: close` carries `{ code, message }` when the server ends it',
        content: { 'text/event-stream': { schema: { type: 'string' } } },
      },
      '204': { description: 'The stream named by `Last-Event-ID` was ended by the server: do not reconnect' },
    };
  if (route.source === 'express')
    return { '200': { description: 'Answered by an express route (its body is not described)' } };
  const status = route.status ?? (isNothing(route.output) ? 204 : 200);
  if (status === 204) return { '204': { description: 'No content' } };
  return {
    [String(status)]: {
      description: status === 201 ? 'Created' : status === 202 ? 'Accepted' : 'Success',
      content: { 'application/json': { schema: output ?? {} } },
    },
  };
}
