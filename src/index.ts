import './runtime.js';
/**
 * gatehouse: the root entry. It holds what applications import: `z`, the error base and the portal (servers), and
 * re-exports every capability's own entry (`gatehouse/queue`, `gatehouse/db`, ...; package.json `exports`), so every
 * public name is importable from here too. Nothing heavy loads on import: each capability loads its dependencies
 * when the option or call that needs them is used (src/load.ts). Internals stay in each capability's internal.ts.
 */
import type { BackgroundErrorCode } from './background/index.js';
import type { BufferErrorCode } from './buffers/index.js';
import type { ClientErrorCode } from './client/index.js';
import type { ControlPlaneErrorCode } from './control-plane/index.js';
import type { CryptoErrorCode } from './crypto/index.js';
import type { DatabaseErrorCode } from './database/index.js';
import type { EnforcementErrorCode } from './enforcer/index.js';
import type { LifecycleErrorCode, ServiceUnavailableCode } from './lifecycle/index.js';
import type { RedisErrorCode } from './redis.js';
import type {
  GateErrorCode,
  PortalErrorCode,
  RealtimeErrorCode,
  StreamErrorCode,
  UploadErrorCode,
} from './servers/index.js';

export { z } from 'zod';

// The error base (src/errors.ts) and the union of every capability's codes.
export { GatehouseError, ValidationError } from './errors.js';
export type { GatehouseErrorOptions, ValidationErrorOptions } from './errors.js';
/** Every code a gatehouse error carries (an `HttpError` may also carry a code of the application's own). */
export type GatehouseErrorCode =
  | PortalErrorCode
  | GateErrorCode
  | RealtimeErrorCode
  | StreamErrorCode
  | UploadErrorCode
  | LifecycleErrorCode
  | ServiceUnavailableCode
  | ControlPlaneErrorCode
  | BufferErrorCode
  | DatabaseErrorCode
  | ClientErrorCode
  | BackgroundErrorCode
  | CryptoErrorCode
  | EnforcementErrorCode
  | RedisErrorCode;

// Logs (src/logger.ts), trace context (src/trace.ts) and the one `redis` option (src/redis.ts), shared by all.
export { createLogger, flushLogger } from './logger.js';
export type { LogFormat, Logger, LoggerConfig } from './logger.js';
export { currentTrace } from './trace.js';
export type { TraceContext } from './trace.js';
export { RedisError } from './redis.js';
export type { RedisConnectionOptions, RedisErrorCode, RedisOption } from './redis.js';

// ServicePortal, endpoints, gates and realtime (the root entry's own capability)
export {
  AuthError,
  defineEndpoint,
  DISCONNECT_NOTICE,
  ForbiddenError,
  GateConfigError,
  HttpError,
  IdempotencyError,
  OutputValidationError,
  PortalError,
  RateLimitError,
  RealtimeError,
  REFRESH_EVENT,
  ServicePortal,
  StreamError,
  UploadError,
} from './servers/index.js';
export type {
  AnyEndpointDefinition,
  ApiKeyEntry,
  AsymmetricAlgorithm,
  AuthErrorCode,
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
  FieldIssue,
  GateConfig,
  GateErrorCode,
  GateIdentity,
  HttpErrorOptions,
  IdempotencyErrorCode,
  IdempotencyOptions,
  IdempotencyStore,
  Identity,
  InjectOptions,
  InjectResponse,
  IssueOptions,
  JobCounts,
  LifecycleMode,
  MetricsOptions,
  OpenApiOptions,
  OverloadMeasures,
  OverloadOptions,
  PortalErrorCode,
  PortalErrorOptions,
  PortalHealthOptions,
  PortalOptions,
  ProbesOptions,
  ProblemBody,
  RateLimitRule,
  RateLimitStore,
  RateLimitStoreName,
  Realtime,
  RealtimeAdapter,
  RealtimeErrorCode,
  RealtimeOptions,
  RealtimeServer,
  RealtimeSocket,
  RealtimeSocketData,
  RevocationStore,
  RouteDefinitions,
  RunOptions,
  SseStream,
  StreamConfig,
  StreamContext,
  StreamErrorCode,
  StreamHandler,
  TokenOptions,
  TokenService,
  TracingOptions,
  TrackableQueue,
  TrustProxy,
  UploadConfig,
  UploadedFile,
  UploadErrorCode,
} from './servers/index.js';

// gatehouse/lifecycle: Lifecycle, sources, status checks, RemoteControl (PXControl)
export {
  EnvSource,
  FileSource,
  Lifecycle,
  LIFECYCLE_STATES,
  isLifecycleState,
  LifecycleError,
  MemorySource,
  prefersHtml,
  RedisLifecycleSource,
  RemoteControl,
  remoteControl,
  RemoteLifecycleSource,
  ServiceUnavailableError,
  SqliteSource,
  StateCheck,
} from './lifecycle/index.js';
export type {
  CheckState,
  FailMode,
  Follower,
  FollowerInfo,
  GatedAnswer,
  GatedRequestContext,
  HealthCheckFunction,
  HealthCheckOptions,
  HealthCheckResult,
  InactiveState,
  LifecycleErrorCode,
  LifecycleErrorOptions,
  LifecycleListener,
  LifecycleOptions,
  LifecycleRecord,
  LifecycleRespond,
  LifecycleRouteMode,
  LifecycleSnapshot,
  LifecycleSource,
  LifecycleSourceName,
  LifecycleState,
  PxStatus,
  RedisLifecycleSourceOptions,
  RemoteControlEvent,
  RemoteControlEvents,
  RemoteControlMiddlewareOptions,
  RemoteControlOptions,
  RemoteStatusListener,
  RemoteUpdateInfo,
  ServiceUnavailableCode,
  ServiceUnavailableErrorOptions,
  SetStateOptions,
  StartupCheckFunction,
  StartupCheckOptions,
  StateCheckExtra,
  StateCheckOptions,
  StatusField,
  StatusFormat,
  StatusReport,
  StatusValue,
} from './lifecycle/index.js';

// gatehouse/control-plane: ControlPlane (loads its engine when constructed)
export { ControlPlane, ControlPlaneError } from './control-plane/index.js';
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

// gatehouse/queue: PersistentQueue, TaskBuffer, DatabaseBuffer, runWorker, schedules
export {
  BufferError,
  DatabaseBuffer,
  defineTask,
  PersistentQueue,
  runWorker,
  TaskBuffer,
  UnrecoverableError,
} from './buffers/index.js';
export type {
  BackoffOptions,
  BackoffType,
  BufferedWrite,
  BufferErrorCode,
  BufferErrorOptions,
  DatabaseBufferEvents,
  DatabaseBufferOptions,
  DeadLetter,
  DeadWrite,
  Durability,
  EngineMode,
  EngineResult,
  FailOptions,
  JobInfo,
  JobState,
  LeasedJob,
  LifecycleLike,
  MaybePromise,
  PersistentQueueOptions,
  PushInput,
  PushOptions,
  QueueStats,
  ResolvedBackoff,
  RunWorkerOptions,
  ScheduleInfo,
  ScheduleMissedPolicy,
  ScheduleSpec,
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
  TaskScheduleOptions,
  WorkerBuffer,
  WorkerHandle,
} from './buffers/index.js';

// gatehouse/db: Database
export { Database, DatabaseError } from './database/index.js';
export type {
  BindParams,
  DatabaseErrorCode,
  DatabaseErrorOptions,
  DatabaseOptions,
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

// gatehouse/client: sendRequest, RequestConfig, Interceptors, HttpClient, createClient
export {
  closeDefaultClient,
  createClient,
  HttpClient,
  HttpClientError,
  HttpResult,
  Interceptors,
  isPrivateAddress,
  RequestConfig,
  sendRequest,
} from './client/index.js';
export type {
  AuthToken,
  AuthType,
  BackoffJitter,
  CircuitBreakerOptions,
  CircuitState,
  ClientErrorCode,
  ClientOptions,
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
  HttpClientErrorOptions,
  HttpErrorCode,
  HttpErrorInfo,
  HttpLogEntry,
  HttpMethod,
  HttpResultJSON,
  InterceptorChain,
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

// gatehouse/background: runEvery, runAt, runOnce, Executor
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
  ScheduledFn,
  ScheduleErrorHook,
  ScheduleHandle,
  ScheduleKind,
  ScheduleOptions,
  SubmitOptions,
} from './background/index.js';

// gatehouse/crypto: Fernet
export { CryptoError, Fernet, FERNET_MAX_CLOCK_SKEW_SEC } from './crypto/index.js';
export type {
  CryptoErrorCode,
  CryptoErrorOptions,
  FernetDecryptOptions,
  FernetEncryptOptions,
} from './crypto/index.js';

// gatehouse/enforcer: enforce
export { enforce, EnforcementError } from './enforcer/index.js';
export type {
  Enforce,
  EnforceConfig,
  EnforcedArgs,
  EnforcedReturn,
  EnforcementErrorCode,
  EnforcementErrorOptions,
  EnforcementIssue,
  EnforceMode,
  EnforceSpec,
} from './enforcer/index.js';
