/**
 * The servers capability's public entry (the root `gatehouse` re-exports it): ServicePortal and what users write
 * against it (endpoint and gate definitions, tokens, realtime), its errors and its option types. Nothing here
 * loads a heavy dependency at import: express, Socket.IO, prom-client, jose, ... load when the portal uses them.
 */
export { ServicePortal, defineEndpoint } from './portal/index.js';
export type {
  AnyEndpointDefinition,
  CloseOptions,
  DiscoveredEndpoint,
  EndpointConfig,
  EndpointDefinition,
  EndpointDefinitionConfig,
  EndpointHandler,
  EndpointMethod,
  InjectOptions,
  InjectResponse,
  JobCounts,
  MetricsOptions,
  OverloadMeasures,
  OverloadOptions,
  PortalHealthOptions,
  PortalOptions,
  ProbesOptions,
  RouteDefinitions,
  RunOptions,
  TrackableQueue,
  TracingOptions,
} from './portal/index.js';
export type { EndpointContext } from './context.js';
export { HttpError, OutputValidationError, PortalError } from './errors.js';
export type { FieldIssue, HttpErrorOptions, PortalErrorCode, PortalErrorOptions } from './errors.js';
export type { ProblemBody } from './problem.js';
export type { OpenApiOptions } from './openapi.js';
export type { TrustProxy } from './client-ip.js';
export type { Identity } from './pipeline/index.js';
export { AuthError, ForbiddenError, GateConfigError, IdempotencyError, RateLimitError } from './gates/index.js';
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
  GateErrorCode,
  GateIdentity,
  IdempotencyErrorCode,
  IdempotencyOptions,
  IdempotencyStore,
  IssueOptions,
  LifecycleMode,
  RateLimitRule,
  RateLimitStore,
  RateLimitStoreName,
  RevocationStore,
  TokenOptions,
  TokenService,
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
export { StreamError } from './streams/index.js';
export type { SseStream, StreamConfig, StreamContext, StreamErrorCode, StreamHandler } from './streams/index.js';
export { UploadError } from './uploads/index.js';
export type { UploadConfig, UploadErrorCode, UploadedFile } from './uploads/index.js';
