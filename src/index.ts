import './runtime.js';
/**
 * gatehouse: the one public entry. Named exports of what applications use; every capability exposes its API
 * through its own folder's index.ts, and internals (pipeline, stores, engines, renderers) stay there.
 */
export { z } from 'zod';

// Errors (src/errors.ts): one base with a code from one union; capability subclasses below.
export { GatehouseError, ValidationError } from './errors.js';
export type {
  FieldIssue,
  GatehouseErrorCode,
  GatehouseErrorOptions,
  RedisErrorCode,
  ValidationErrorOptions,
} from './errors.js';
export { createLogger, flushLogger, flushLoggerSync, rootLogger, serviceLogger } from './logger.js';
export type { LogFormat, Logger, LoggerConfig } from './logger.js';

// Tracing (src/trace.ts): W3C traceparent, carried across requests, sendRequest calls and jobs.
export { currentTrace, formatTraceparent, parseTraceparent } from './trace.js';
export type { TraceContext, Traceparent } from './trace.js';

// Redis (src/redis.ts): the one `redis` option, shared by every store of a portal.
export type { RedisConnectionOptions, RedisOption } from './redis.js';

// servers (src/servers): ServicePortal, endpoints, gates, realtime.
export {
  AuthError,
  DISCONNECT_NOTICE,
  ForbiddenError,
  GateConfigError,
  HttpError,
  OutputValidationError,
  REFRESH_EVENT,
  RateLimitError,
  RealtimeError,
  ServicePortal,
  UNMATCHED_ROUTE,
  defineEndpoint,
  isEndpointDefinition,
} from './servers/index.js';
export type {
  ApiKeyEntry,
  AsymmetricAlgorithm,
  AuthMode,
  AuthOptions,
  BasicAuthCallback,
  BasicAuthResult,
  CloseOptions,
  CorsOptions,
  DiscoveredEndpoint,
  EndpointConfig,
  EndpointContext,
  EndpointDefinition,
  EndpointDefinitionConfig,
  EndpointHandler,
  EndpointMethod,
  EventConfig,
  EventContext,
  EventErrorAck,
  EventHandler,
  GateConfig,
  HttpErrorOptions,
  Identity,
  InjectOptions,
  InjectResponse,
  IssueOptions,
  JobCounts,
  LifecycleMode,
  MetricsOptions,
  OpenApiOptions,
  PortalHealthOptions,
  PortalOptions,
  ProblemBody,
  RateLimitRule,
  RateLimitStore,
  RateLimitStoreName,
  Realtime,
  RealtimeAdapter,
  RealtimeOptions,
  RealtimeServer,
  RealtimeSocket,
  RealtimeSocketData,
  RevocationStore,
  RunOptions,
  TokenOptions,
  TokenService,
  TrackableQueue,
  TracingOptions,
  TrustProxy,
  AuthErrorCode,
  PortalErrorCode,
  RealtimeErrorCode,
} from './servers/index.js';

// Lifecycle (src/lifecycle): states, sources, status checks.
export {
  DEFAULT_MESSAGES,
  EnvSource,
  FileSource,
  LIFECYCLE_CODES,
  LIFECYCLE_STATES,
  Lifecycle,
  LifecycleError,
  MemorySource,
  RedisLifecycleSource,
  ServiceUnavailableError,
  SqliteSource,
  StateCheck,
  isLifecycleState,
  prefersHtml,
} from './lifecycle/index.js';
export type {
  CheckState,
  GatedAnswer,
  GatedRequestContext,
  HealthCheckFunction,
  HealthCheckOptions,
  HealthCheckResult,
  InactiveState,
  LifecycleErrorCode,
  LifecycleListener,
  LifecycleOptions,
  LifecycleRecord,
  LifecycleRespond,
  LifecycleRouteMode,
  LifecycleSnapshot,
  LifecycleSource,
  LifecycleSourceName,
  LifecycleState,
  RedisLifecycleSourceOptions,
  ServiceUnavailableCode,
  SetStateOptions,
  StateCheckExtra,
  StateCheckOptions,
  StatusField,
  StatusFormat,
  StatusReport,
  StatusValue,
} from './lifecycle/index.js';

export { FOLLOWER_LIVE_MS, HEARTBEAT_MS, isLiveFollower } from './lifecycle/index.js';
export type { Follower, FollowerInfo } from './lifecycle/index.js';

// Remote control (src/lifecycle/remote): the PXControl protocol client, RemoteControl, the 'remote' source.
export {
  GATEHOUSE_FIELDS,
  REMOTE_ENV,
  RemoteControl,
  RemoteLifecycleSource,
  remoteControl,
} from './lifecycle/index.js';
export type {
  FailMode,
  PxStatus,
  RemoteControlEvent,
  RemoteControlEvents,
  RemoteControlMiddlewareOptions,
  RemoteControlOptions,
  RemoteStatusListener,
  RemoteUpdateInfo,
} from './lifecycle/index.js';

// Control plane (src/control-plane): a self-hosted PXControl-compatible server, its admin API and dashboard.
export { CLOSE_INVALID_TOKEN, CLOSE_REVOKED, ControlPlane, ControlPlaneError } from './control-plane/index.js';
export type {
  ActorOption,
  AuditAction,
  AuditEntry,
  ControlPlaneErrorCode,
  ControlPlaneErrorOptions,
  ControlPlaneOptions,
  ControlPlaneRunOptions,
  CreateProjectOptions,
  InstanceInfo,
  ProjectRecord,
  ProjectStatus,
  ProjectView,
  SdkVersionEntry,
  SdkVersionOptions,
  SetProjectStatusOptions,
  StatusObject,
  TokenView,
} from './control-plane/index.js';

// Database (src/database): the SQLite layer.
export { Database, DatabaseError } from './database/index.js';
export type {
  BindParams,
  DatabaseErrorCode,
  DatabaseOptions,
  Durability,
  FetchOptions,
  Migration,
  Row,
  RowInput,
  RunResult,
  SqlValue,
  TableDeclarations,
  UpsertOptions,
  Where,
  WhereObject,
  WhereSql,
} from './database/index.js';

// Buffers (src/buffers): PersistentQueue, TaskBuffer, DatabaseBuffer on a queue engine.
export {
  BufferError,
  DatabaseBuffer,
  PersistentQueue,
  TaskBuffer,
  UnrecoverableError,
  defineTask,
} from './buffers/index.js';
export type {
  BufferErrorCode,
  BufferedWrite,
  DatabaseBufferEvents,
  DatabaseBufferOptions,
  DeadLetter,
  DeadWrite,
  FailOptions,
  JobInfo,
  JobState,
  LeasedJob,
  MaybePromise,
  PersistentQueueOptions,
  PushInput,
  PushOptions,
  QueueStats,
  TaskBufferEvents,
  TaskBufferMode,
  TaskBufferOptions,
  TaskContext,
  TaskData,
  TaskDefinition,
  TaskErrorHook,
  TaskHandler,
  TaskHandlers,
  TaskJobInfo,
  TaskPushOptions,
} from './buffers/index.js';
export type { ScheduleInfo, ScheduleMissedPolicy, ScheduleSpec, TaskScheduleOptions } from './buffers/index.js';
export { runWorker } from './buffers/index.js';
export type { RunWorkerOptions, WorkerBuffer, WorkerHandle } from './buffers/index.js';

export { backoffDelay } from './backoff.js';

// HTTP client (src/client): the always-resolve sendRequest, global RequestConfig and Interceptors, createClient.
export {
  HttpClient,
  HttpClientError,
  HttpResult,
  Interceptors,
  RequestConfig,
  closeDefaultClient,
  createClient,
  isPrivateAddress,
  sendRequest,
} from './client/index.js';
export type {
  AuthToken,
  AuthType,
  BackoffJitter,
  BackoffOptions,
  BackoffType,
  CircuitBreakerOptions,
  CircuitState,
  ClientErrorCode,
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
} from './client/index.js';

// Enforcer (src/enforcer): runtime contracts, handler registration rules, the static export check.
export { EnforcementError, enforce } from './enforcer/index.js';
export type {
  Enforce,
  EnforceConfig,
  EnforceMode,
  EnforceSpec,
  EnforcedArgs,
  EnforcedReturn,
  EnforcementErrorCode,
  EnforcementErrorOptions,
  EnforcementIssue,
} from './enforcer/index.js';
// Internal since the lean core (the lead decides whether the root keeps them): the handler rules and the check API.
export { checkHandlerRegistration, checkProject, formatProblem } from './enforcer/internal.js';
export type {
  CheckOptions,
  CheckProblem,
  CheckResult,
  CheckRule,
  HandlerKind,
  HandlerRegistration,
} from './enforcer/internal.js';

// Background work (src/background): runEvery / runAt / runOnce, Executor (async concurrency or piscina threads).
export { BackgroundError, Executor, MAX_TIMER_MS, runAt, runEvery, runOnce } from './background/index.js';
export type {
  BackgroundErrorCode,
  BackgroundErrorOptions,
  ExecutorCloseOptions,
  ExecutorErrorHook,
  ExecutorOptions,
  ExecutorStats,
  JobContext,
  JobFn,
  MapOptions,
  RunAtOptions,
  RunEveryOptions,
  RunOnceOptions,
  ScheduleContext,
  ScheduleErrorHook,
  ScheduleHandle,
  ScheduleKind,
  ScheduleOptions,
  ScheduledFn,
  SubmitOptions,
} from './background/index.js';

// Encryption (src/crypto): Fernet, interoperable with Python's cryptography.fernet.
export { CryptoError, FERNET_MAX_CLOCK_SKEW_SEC, Fernet } from './crypto/index.js';
export type {
  CryptoErrorCode,
  CryptoErrorOptions,
  FernetDecryptOptions,
  FernetEncryptOptions,
} from './crypto/index.js';
