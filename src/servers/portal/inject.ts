import type { IncomingHttpHeaders, OutgoingHttpHeaders, RequestListener } from 'node:http';
import type LightMyRequest from 'light-my-request';
import { PortalError } from '../errors.js';

/** A request for {@link ServicePortal.inject}. */
export interface InjectOptions {
  /** HTTP method. @defaultValue 'GET' */
  method?: string;
  /** Path and query, e.g. `'/api/notes/7?full=1'`. */
  url: string;
  /** Request headers. @defaultValue none */
  headers?: Record<string, string | string[]>;
  /** Body: an object or array is sent as JSON (with `content-type: application/json`), a string or Buffer as is. @defaultValue none */
  payload?: unknown;
  /** The client address the gates see (rate limits by ip, `trustProxy`). @defaultValue '127.0.0.1' */
  remoteAddress?: string;
}

/** The answer to an injected request. */
export interface InjectResponse {
  statusCode: number;
  /** Response headers, names in lower case. */
  headers: OutgoingHttpHeaders;
  /** The body as text. */
  body: string;
  /** The body parsed as JSON (throws on a body that is not JSON). */
  json<T = unknown>(): T;
}

/** Process-wide on purpose (a module cache): light-my-request, loaded by the first `inject()` of any portal. */
let lightMyRequest: typeof LightMyRequest | undefined;

/**
 * Run one request through `dispatch` (the portal's request listener) in memory, with light-my-request: no
 * socket, no port, no `run()`.
 */
export async function injectRequest(dispatch: RequestListener, options: InjectOptions): Promise<InjectResponse> {
  if (
    typeof options !== 'object' ||
    options === null ||
    typeof options.url !== 'string' ||
    !options.url.startsWith('/')
  ) {
    throw new PortalError('inject: url must be a path starting with "/"', { code: 'ERR_PORTAL_OPTIONS' });
  }
  const payload = options.payload;
  const headers: IncomingHttpHeaders = { ...options.headers };
  let body: string | Buffer | undefined;
  if (payload === undefined || payload === null) body = undefined;
  else if (typeof payload === 'string' || Buffer.isBuffer(payload)) body = payload;
  else {
    body = JSON.stringify(payload);
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  lightMyRequest ??= (await import('light-my-request')).default;
  const res = await lightMyRequest(dispatch, {
    method: (options.method ?? 'GET').toUpperCase(),
    url: options.url,
    headers,
    remoteAddress: options.remoteAddress ?? '127.0.0.1',
    ...(body === undefined ? {} : { payload: body }),
  });
  const text = res.payload;
  return {
    statusCode: res.statusCode,
    headers: res.headers,
    body: text,
    json: <T>() => JSON.parse(text) as T,
  };
}

/**
 * Express swaps the prototypes of the request and response it is handed for its own (`http.IncomingMessage` /
 * `http.ServerResponse` based), which would drop light-my-request's in-memory `write`/`end`: an injected pair
 * gets those methods as own properties first, so the express fallback answers injected requests too.
 */
export function pinInjected(req: object, res: object): void {
  if ((res as { isLightMyRequest?: unknown }).isLightMyRequest !== true) return;
  for (const target of [req, res]) {
    const proto = Object.getPrototypeOf(target) as Record<string, unknown> | null;
    if (proto === null) continue;
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || Object.hasOwn(target, name)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (descriptor && typeof descriptor.value === 'function')
        Object.defineProperty(target, name, { value: descriptor.value, writable: true, configurable: true });
    }
  }
}
