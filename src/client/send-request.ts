/**
 * `sendRequest` (contract): the module-level client configured by the global `RequestConfig` and
 * `Interceptors`. Its pool keeps no idle socket ref'd, so it never keeps the process alive.
 */
import { HttpClient } from './client.js';
import { RequestConfig } from './config.js';
import { Interceptors } from './interceptors.js';
import type { HttpResult } from './result.js';
import type { RequestOptions } from './types.js';

let shared: HttpClient | undefined;

/** The module default client (created on first use) behind `sendRequest`. */
export function defaultClient(): HttpClient {
  shared ??= new HttpClient({}, { defaults: RequestConfig, interceptors: Interceptors });
  return shared;
}

/**
 * Send an HTTP request with the global defaults (`RequestConfig`) and hooks (`Interceptors`).
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
