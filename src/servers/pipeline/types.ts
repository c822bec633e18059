import type { IncomingHttpHeaders } from 'node:http';

/** Who made a call, as established by the auth gate. */
export interface Identity {
  /** Subject id: the token's `sub`, the API key's name, or the basic-auth user id. */
  id: string;
  /** Granted scopes. */
  scopes: string[];
  /** Which credential established the identity. */
  via: 'bearer' | 'apiKey' | 'basic';
  /** Verified token claims (bearer only). */
  claims?: Record<string, unknown>;
}

/** How a call reached the pipeline. */
export type Transport = 'http' | 'socket';

/**
 * One call travelling through a compiled gate pipeline: an HTTP request or a socket event. Steps read and
 * fill it in; none of them knows which transport it came from beyond `transport`.
 */
export interface GateCall {
  readonly transport: Transport;
  /** Route or event key, e.g. `POST /api/notes` or `join_team`: the rate-limit key for `by: 'endpoint'`. */
  readonly route: string;
  readonly requestId: string;
  /** Client address, resolved with the portal's `trustProxy` setting. */
  readonly ip: string;
  /** Request headers (HTTP) or handshake headers (socket). */
  readonly headers: IncomingHttpHeaders;
  /** Set by the auth gate (HTTP) or from the handshake (socket); `null` when anonymous. */
  identity: Identity | null;
  /** The raw bearer token that established `identity`, when there is one. */
  token: string | undefined;
  /** Unvalidated input: merged params/query/body (HTTP) or the event payload (socket). */
  payload: unknown;
  /** Validated input handed to the handler. */
  input: unknown;
  /** The handler's result, on its way out. */
  result: unknown;
  /** Set once the output schema has produced `result` (masking takes scopes only from a validated result). */
  resultValidated?: boolean;
  /** The result's JSON text, when the output check wrote it in the same pass (HTTP endpoints). */
  serialized?: string | undefined;
  /** Set a response header (HTTP); a no-op for sockets. */
  setHeader(name: string, value: string): void;
}

/** One compiled step. Rejects by throwing a GatehouseError; resolves to continue. */
export type GateStep = (call: GateCall) => void | Promise<void>;

/**
 * A zod schema as the endpoint types see it: only its `_zod` type slot. Route types are constrained by this
 * rather than by `ZodType`, whose structural comparison costs thousands of type instantiations per route
 * (measured by test/typed/type-performance.test.ts); at run time the value is the zod schema itself.
 */
export interface SchemaLike {
  readonly _zod: { readonly input: unknown; readonly output: unknown };
}

/** What a handler receives for an input schema (its parsed output type), or `unknown` without one. */
export type SchemaInput<S> = S extends { readonly _zod: { readonly output: infer T } } ? T : unknown;

/** What a handler may return for an output schema (the schema's input type), or `unknown` without one. */
export type SchemaOutput<S> = S extends { readonly _zod: { readonly input: infer T } } ? T : unknown;
