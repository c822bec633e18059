/**
 * `sendRequest` (contract): the module-level client configured by the global `RequestConfig` and
 * `Interceptors`. Its pool keeps no idle socket ref'd, so it never keeps the process alive.
 *
 * The default client is process-wide on purpose (API.md 7): `sendRequest`, `RequestConfig` and `Interceptors`
 * are one set of defaults, hooks, connection pool and circuit breakers for the whole process, so a setting made
 * at startup applies everywhere. Code that needs its own (a library, a second portal, a test) uses
 * `createClient()`, which shares none of it.
 */
import { HttpClient } from './client.js';
import { RequestConfig } from './config.js';
import { Interceptors } from './interceptors.js';
import type { HttpResult } from './result.js';
import type { RequestOptions } from './types.js';

let shared: HttpClient | undefined;

/**
 * The process-wide default client behind `sendRequest` (created on first use; process-wide on purpose, see the
 * module comment). `createClient()` gives isolated defaults.
 */
export function defaultClient(): HttpClient {
  shared ??= new HttpClient({}, { defaults: RequestConfig, interceptors: Interceptors });
  return shared;
}

/**
 * Send an HTTP request with the process-wide defaults (`RequestConfig`) and hooks (`Interceptors`); for
 * isolated defaults, use `createClient()`.
 * Never rejects: failures resolve with `ok: false` and `error: { code, message }`.
 *
 * @example
 * ```ts
 * RequestConfig.baseUrl = 'https://api.example.com';
 * const res = await sendRequest<{ items: string[] }>({ method: 'GET', endpoint: '/items', authToken: tok });
 * if (res.ok) use(res.data); else log.warn({ code: res.error?.code, log: res.log });
 * ```
 * @param options - the call; unset fields fall back to `RequestConfig`
 * @returns the result (contract: ok, status, data, headers, error, attempts, durationMs, log, toJSON)
 */
export function sendRequest<T = unknown>(options: RequestOptions<T>): Promise<HttpResult<T>> {
  return defaultClient().send<T>(options);
}

/** Close the module default client's pool (a later `sendRequest` opens a fresh one). Safe to call twice. */
export async function closeDefaultClient(): Promise<void> {
  const c = shared;
  shared = undefined;
  if (c !== undefined) await c.close();
}
