/**
 * `gatehouse/client` (API.md 7 and 15): the always-resolve `sendRequest` on the process-wide default client
 * configured by `RequestConfig` and `Interceptors`, and isolated clients from `createClient`. undici loads on
 * the first outbound request, not at import.
 */
export { sendRequest, closeDefaultClient } from './send-request.js';
export { HttpClient } from './client.js';
export { createClient } from './create-client.js';
export type {
  ClientRoute,
  ClientRoutes,
  InjectTarget,
  ReservedRouteKey,
  RouteCall,
  RouteInput,
  RouteOutput,
  ServiceCallOptions,
  ServiceClient,
  ServiceClientOptions,
  ServiceErrorResult,
  ServiceProblem,
  ServiceProblemResult,
  ServiceResult,
  ServiceSuccess,
  ServiceToken,
} from './service-types.js';
export { RequestConfig } from './config.js';
export { Interceptors } from './interceptors.js';
export type { InterceptorChain } from './interceptors.js';
export { HttpResult } from './result.js';
export type {
  HttpErrorCode,
  HttpErrorInfo,
  HttpLogEntry,
  HttpMethod,
  HttpResultJSON,
  OutgoingRequest,
} from './result.js';
export { isPrivateAddress } from './address-policy.js';
export { HttpClientError } from './errors.js';
export type { ClientErrorCode, HttpClientErrorOptions } from './errors.js';
export type { CircuitState } from './circuit-breaker.js';
export type { BackoffJitter } from '../backoff.js';
export type {
  AuthToken,
  AuthType,
  BackoffOptions,
  BackoffType,
  CircuitBreakerOptions,
  ClientOptions,
  QueryParams,
  QueryValue,
  RequestBody,
  RequestDefaults,
  RequestHook,
  RequestOptions,
  ResponseHook,
  ResponseType,
} from './types.js';
