import './runtime.js';
/**
 * gatehouse: the one public entry. Named exports only; every capability exposes its API through its own
 * folder's index.ts and is re-exported here.
 */
export { z } from 'zod';
export { GatehouseError } from './errors.js';
export type { GatehouseErrorOptions } from './errors.js';
export { createLogger } from './logger.js';
export type { Logger, LoggerConfig } from './logger.js';

// Database (src/database): the SQLite layer.
export { Database, DatabaseError, IDENTIFIER_PATTERN } from './database/index.js';
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

// Enforcer (src/enforcer): runtime contracts, handler registration rules, the static export check.
export { enforce, EnforcementError, checkHandlerRegistration, checkProject, formatProblem } from './enforcer/index.js';
export type {
  CheckOptions,
  CheckProblem,
  CheckResult,
  CheckRule,
  Enforce,
  EnforceConfig,
  EnforceMode,
  EnforceSpec,
  EnforcedArgs,
  EnforcedReturn,
  EnforcementErrorCode,
  EnforcementErrorOptions,
  EnforcementIssue,
  HandlerKind,
  HandlerRegistration,
} from './enforcer/index.js';

// servers: ServicePortal, endpoints, gates, errors
export { AuthError, ForbiddenError, GateConfigError, HttpError, OutputValidationError, RateLimitError, ServicePortal, TokenService } from './servers/index.js';
export type {
  ApiKeyEntry,
  AsymmetricAlgorithm,
  AuthErrorCode,
  AuthMode,
  AuthOptions,
  BasicAuthCallback,
  BasicAuthResult,
  CloseOptions,
  CorsOptions,
  EndpointConfig,
  EndpointContext,
  EndpointHandler,
  EndpointMethod,
  FieldIssue,
  GateCall,
  GateConfig,
  HttpErrorOptions,
  Identity,
  IssueOptions,
  LifecycleMode,
  OpenApiOptions,
  PortalOptions,
  ProblemBody,
  RateLimitRule,
  RateLimitStore,
  RunOptions,
  TokenOptions,
  TrustProxy,
} from './servers/index.js';

// HTTP client (src/client): the always-resolve sendRequest, global RequestConfig and Interceptors, createClient.
export {
  sendRequest,
  closeDefaultClient,
  createClient,
  HttpClient,
  HttpClientError,
  HttpResult,
  RequestConfig,
  Interceptors,
  InterceptorChain,
  CircuitBreakerRegistry,
  backoffDelay,
  parseRetryAfter,
} from './client/index.js';
export type {
  AuthToken,
  AuthType,
  BackoffOptions,
  BackoffType,
  CircuitBreakerOptions,
  CircuitState,
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

// Buffers (src/buffers): durable SQLite queue store, PersistentQueue, TaskBuffer, DatabaseBuffer.
export { PersistentQueue, TaskBuffer, DatabaseBuffer, BufferError, UnrecoverableError, QUEUE_FILE, defineTask } from './buffers/index.js';
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
  PersistentQueueOptions,
  PushInput,
  QueueStats,
  TaskBufferEvents,
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

// Realtime (src/servers/realtime): Socket.IO identities, groups, gated events (via `websocket` on ServicePortal).
export { Realtime, RealtimeError, DISCONNECT_NOTICE, REFRESH_EVENT } from './servers/realtime/index.js';
export type {
  EventConfig,
  EventContext,
  EventErrorAck,
  EventHandler,
  RealtimeAdapter,
  RealtimeErrorCode,
  RealtimeHost,
  RealtimeOptions,
  RealtimeServer,
  RealtimeSocket,
  RealtimeSocketData,
} from './servers/realtime/index.js';

// Lifecycle (src/lifecycle): state machine and sources, gate step, health/ready/status, graceful shutdown.
export {
  DEFAULT_MESSAGES,
  EnvSource,
  FileSource,
  HealthBoard,
  LIFECYCLE_CODES,
  LIFECYCLE_STATES,
  Lifecycle,
  LifecycleError,
  MemorySource,
  ServiceUnavailableError,
  SqliteSource,
  installShutdownHandlers,
  isLifecycleState,
  lifecycleProblem,
  lifecycleStep,
  lifecycleUpdateSchema,
  renderStatus,
  statusFormatFor,
} from './lifecycle/index.js';
export type {
  CheckState,
  HealthCheckFunction,
  HealthCheckOptions,
  HealthCheckResult,
  HealthBoardOptions,
  InactiveState,
  LifecycleErrorCode,
  LifecycleGateStep,
  LifecycleListener,
  LifecycleOptions,
  LifecycleRecord,
  LifecycleRouteMode,
  LifecycleSnapshot,
  LifecycleSource,
  LifecycleSourceName,
  LifecycleState,
  LifecycleUpdate,
  Readiness,
  SetStateOptions,
  ShutdownOptions,
  ShutdownTarget,
  StatusField,
  StatusFormat,
  StatusReport,
  StatusValue,
} from './lifecycle/index.js';
export type { PortalHealthOptions } from './servers/index.js';
