/**
 * HTTP client capability (API.md section 7): the always-resolve `sendRequest`, global `RequestConfig`
 * and `Interceptors`, isolated clients from `createClient`.
 */
export { sendRequest, closeDefaultClient, defaultClient } from './send-request.js';
export { HttpClient, HttpClientError, createClient } from './client.js';
export { RequestConfig } from './config.js';
export { Interceptors, InterceptorChain } from './interceptors.js';
export { HttpResult } from './result.js';
export { CircuitBreakerRegistry } from './circuit-breaker.js';
export type { CircuitState } from './circuit-breaker.js';
export { backoffDelay } from '../backoff.js';
export type { BackoffJitter } from '../backoff.js';
export { parseRetryAfter } from './retry-after.js';
export { isPrivateAddress } from './address-policy.js';
export type {
  AuthToken,
  AuthType,
  BackoffOptions,
  BackoffType,
  CircuitBreakerOptions,
  ClientOptions,
  HttpErrorCode,
  HttpErrorInfo,
  HttpLogEntry,
  HttpMethod,
  HttpResultJSON,
  OutgoingRequest,
  QueryParams,
  QueryValue,
  RequestBody,
  RequestDefaults,
  RequestHook,
  RequestOptions,
  ResponseHook,
  ResponseType,
} from './types.js';
