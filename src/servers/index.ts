/**
 * The service portal: ServicePortal (endpoints on a compiled gate pipeline, the express fallback, realtime,
 * lifecycle routes), its errors and its option types. Internals (pipeline, gate compilation, stores) are
 * imported from their modules by the code that needs them.
 */
export { ServicePortal } from './portal/index.js';
export type {
  CloseOptions,
  EndpointConfig,
  EndpointHandler,
  EndpointMethod,
  PortalHealthOptions,
  PortalOptions,
  RunOptions,
} from './portal/index.js';
export { defineEndpoint, isEndpointDefinition } from './portal/index.js';
export type { DiscoveredEndpoint, EndpointDefinition, EndpointDefinitionConfig } from './portal/index.js';
export { UNMATCHED_ROUTE } from './portal/index.js';
export type {
  InjectOptions,
  InjectResponse,
  JobCounts,
  MetricsOptions,
  TrackableQueue,
  TracingOptions,
} from './portal/index.js';
export type { EndpointContext } from './context.js';
export { HttpError } from './http-error.js';
export type { FieldIssue, HttpErrorOptions, ProblemBody } from './http-error.js';
export type { OpenApiOptions } from './openapi.js';
export type { TrustProxy } from './client-ip.js';
export { OutputValidationError } from './pipeline/index.js';
export type { GateCall, Identity, Transport } from './pipeline/index.js';
export { AuthError, ForbiddenError, GateConfigError, RateLimitError, TokenService } from './gates/index.js';
export type {
  ApiKeyEntry,
  AsymmetricAlgorithm,
  AuthErrorCode,
  AuthMode,
  AuthOptions,
  BasicAuthCallback,
  BasicAuthResult,
  CorsOptions,
  GateConfig,
  IssueOptions,
  LifecycleMode,
  RateLimitRule,
  RateLimitStore,
  RateLimitStoreName,
  RevocationStore,
  TokenOptions,
} from './gates/index.js';
export { DISCONNECT_NOTICE, REFRESH_EVENT, RealtimeError } from './realtime/index.js';
export type {
  EventConfig,
  EventContext,
  EventErrorAck,
  EventHandler,
  Realtime,
  RealtimeAdapter,
  RealtimeErrorCode,
  RealtimeOptions,
  RealtimeServer,
  RealtimeSocket,
  RealtimeSocketData,
} from './realtime/index.js';
