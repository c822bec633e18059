/**
 * What other parts of gatehouse (and the client's own tests) need from the client and users do not: the default
 * client behind `sendRequest`, the hook chain class, the per-origin breaker and the Retry-After parser.
 */
export { defaultClient } from './send-request.js';
export { InterceptorChain } from './interceptors.js';
export { CircuitBreakerRegistry } from './circuit-breaker.js';
export { parseRetryAfter } from './retry-after.js';
export { RESERVED_ROUTE_KEYS } from './service-routes.js';
