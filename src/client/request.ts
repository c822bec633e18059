/**
 * The outgoing request of a call, built from its options over the client's defaults: method, URL (base URL,
 * query), headers, auth, idempotency key, trace context, encoded body, then the request hooks.
 */
import { outgoingTraceparent } from '../trace.js';
import { errorMessage, failCall, type CallState } from './call.js';
import { DEFAULTS } from './config.js';
import { parseAbsolute, resolveTarget, type Target } from './endpoint.js';
import { Redactor } from './redact.js';
import type { HttpMethod, OutgoingRequest } from './result.js';
import type { AuthToken, AuthType, QueryParams, RequestDefaults, RequestHook, RequestOptions } from './types.js';

/** Methods the client sends. */
export const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const NONE: readonly string[] = [];

/** A request ready for its attempts. */
export interface PreparedRequest {
  target: Target;
  method: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string | Uint8Array | null;
}

/** `k=v&k=v` (arrays as repeated keys; `null` and `undefined` left out), without the leading `?`. */
export function encodeQuery(query: QueryParams): string {
  let out = '';
  for (const key of Object.keys(query)) {
    const v = query[key];
    if (v === undefined || v === null) continue;
    const k = encodeURIComponent(key);
    if (Array.isArray(v)) {
      for (const item of v as ReadonlyArray<string | number | boolean>) {
        out += `${out === '' ? '' : '&'}${k}=${encodeURIComponent(String(item))}`;
      }
    } else {
      out += `${out === '' ? '' : '&'}${k}=${encodeURIComponent(String(v))}`;
    }
  }
  return out;
}

/**
 * The header a credential goes in, per `authType` (lower-case name), or why it cannot be sent. `encoded` is basic
 * auth's base64 pair, a secret to redact beside the token.
 */
export function authHeader(
  authType: AuthType,
  token: AuthToken,
  apiKeyHeader: string,
): { name: string; value: string; encoded?: string } | string {
  if (authType === 'basic') {
    const pair = typeof token === 'string' ? token : `${token[0]}:${token[1]}`;
    if (!pair.includes(':')) return "basic auth needs 'user:pass' or [user, pass]";
    const encoded = Buffer.from(pair, 'utf8').toString('base64');
    return { name: 'authorization', value: `Basic ${encoded}`, encoded };
  }
  if (typeof token !== 'string') return `${authType} auth needs a string token`;
  if (authType === 'bearer') return { name: 'authorization', value: `Bearer ${token}` };
  return { name: apiKeyHeader.toLowerCase(), value: token };
}

function authSecrets(token: unknown, encoded: string | undefined): string[] {
  const out: string[] = [];
  if (typeof token === 'string') {
    out.push(token);
    const colon = token.indexOf(':');
    if (colon !== -1) out.push(token.slice(colon + 1));
  } else if (Array.isArray(token)) {
    out.push(String(token[1]), `${String(token[0])}:${String(token[1])}`);
  }
  if (encoded !== undefined) out.push(encoded);
  return out;
}

/**
 * Build the request of a call (synchronous: no promise per call unless hooks run); on bad input the call fails
 * with `BAD_REQUEST` (on `st`) and this returns undefined.
 * @param o - the call's options (already checked)
 * @param d - the client's defaults
 * @param st - the call's state (method, url, trace are filled in)
 */
export function prepareRequest<T>(
  o: RequestOptions<T>,
  d: RequestDefaults,
  st: CallState,
): PreparedRequest | undefined {
  // Method
  let method: string = o.method ?? 'GET';
  if (!METHODS.has(method)) {
    const up = typeof method === 'string' ? method.toUpperCase() : '';
    if (!METHODS.has(up)) return void failCall(st, 'BAD_REQUEST', `unsupported method: ${String(method)}`);
    method = up;
  }
  st.method = method;

  // URL
  const endpoint = o.endpoint;
  if (typeof endpoint !== 'string') {
    st.url = `(${endpoint === null ? 'null' : typeof endpoint})`;
    return void failCall(st, 'BAD_REQUEST', `endpoint must be a string, got ${st.url}`);
  }
  const redact = (url: string): string => new Redactor(st.trace.redactFields, NONE).url(url);
  const target: Target | string = resolveTarget(endpoint, d.baseUrl ?? DEFAULTS.baseUrl, redact);
  // Until the target is known, logs show what the caller gave (redacted when logged).
  if (typeof target === 'string') st.url = endpoint === '' ? '(empty)' : endpoint;
  if (typeof target === 'string') return void failCall(st, 'BAD_REQUEST', target);
  if (o.query !== undefined && o.query !== null) {
    const qs = encodeQuery(o.query);
    if (qs !== '') target.path += (target.path.includes('?') ? '&' : '?') + qs;
  }

  // Headers
  const headers: Record<string, string> = {};
  const dh = d.headers;
  if (dh !== undefined) for (const k of Object.keys(dh)) headers[k.toLowerCase()] = dh[k] as string;
  const oh = o.headers;
  if (oh !== undefined) for (const k of Object.keys(oh)) headers[k.toLowerCase()] = oh[k] as string;

  // Auth
  const token = o.authToken ?? d.authToken;
  if (token !== undefined) {
    const auth = authHeader(
      o.authType ?? d.authType ?? DEFAULTS.authType,
      token,
      o.apiKeyHeader ?? d.apiKeyHeader ?? DEFAULTS.apiKeyHeader,
    );
    if (typeof auth === 'string') return void failCall(st, 'BAD_REQUEST', auth);
    headers[auth.name] = auth.value;
    st.trace.secrets = authSecrets(token, auth.encoded);
  }
  if (o.idempotencyKey !== undefined) headers['idempotency-key'] = String(o.idempotencyKey);
  // W3C trace context: a call made during a traced request or job continues its trace (a caller's own header wins).
  if (headers.traceparent === undefined) {
    const traceparent = outgoingTraceparent();
    if (traceparent !== undefined) headers.traceparent = traceparent;
  }

  // Body
  let body: string | Uint8Array | null = null;
  const b = o.body;
  if (b !== undefined && b !== null) {
    if (typeof b === 'string') {
      body = b;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else if (b instanceof Uint8Array) {
      body = b;
      headers['content-type'] ??= 'application/octet-stream';
    } else if (b instanceof URLSearchParams) {
      body = b.toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    } else {
      try {
        body = JSON.stringify(b);
      } catch (err) {
        return void failCall(st, 'BAD_REQUEST', `body is not JSON-serializable: ${errorMessage(err)}`);
      }
      headers['content-type'] ??= 'application/json';
    }
  }

  const req: OutgoingRequest = { method: method as HttpMethod, url: target.origin + target.path, headers, body };
  st.url = req.url;
  st.trace.request = req;
  return { target, method, headers, body };
}

/**
 * Run the request hooks (global first) over a prepared request; a hook that throws, or sets a bad method or URL,
 * fails the call with `BAD_REQUEST` and this resolves undefined.
 * @param prepared - what {@link prepareRequest} built
 * @param st - the call's state (its `trace.request` is what the hooks see)
 * @param hooks - the hooks, in order
 */
export async function applyRequestHooks(
  prepared: PreparedRequest,
  st: CallState,
  hooks: readonly RequestHook[],
): Promise<PreparedRequest | undefined> {
  const req = st.trace.request as OutgoingRequest;
  const redact = (url: string): string => new Redactor(st.trace.redactFields, NONE).url(url);
  let target: Target | string = prepared.target;
  let current = req;
  try {
    for (const hook of hooks) {
      const next = await hook(current);
      if (next !== undefined && next !== null) current = next;
    }
  } catch (err) {
    return void failCall(st, 'BAD_REQUEST', `request hook failed: ${errorMessage(err)}`);
  }
  if (!METHODS.has(current.method))
    return void failCall(st, 'BAD_REQUEST', `request hook set unsupported method: ${current.method}`);
  if (current.url !== req.url) {
    target = parseAbsolute(current.url, redact);
    if (typeof target === 'string') return void failCall(st, 'BAD_REQUEST', `request hook set a bad url: ${target}`);
  }
  st.trace.request = current;
  st.method = current.method;
  st.url = current.url;
  const lower: Record<string, string> = {};
  for (const k of Object.keys(current.headers)) lower[k.toLowerCase()] = current.headers[k] as string;
  current.headers = lower;
  return {
    target: { origin: target.origin, path: target.path },
    method: current.method,
    headers: lower,
    body: current.body,
  };
}
