/**
 * Lifecycle gating and status: the state machine and its sources, the gate step, health/readiness/status
 * checks, graceful shutdown and the `gatehouse lifecycle` CLI.
 */
export { Lifecycle, createLifecycleSource } from './lifecycle.js';
export type {
  LifecycleGateStep,
  LifecycleListener,
  LifecycleOptions,
  LifecycleRouteMode,
  LifecycleSnapshot,
  LifecycleSourceName,
  SetStateOptions,
} from './lifecycle.js';
export { LifecycleError, ServiceUnavailableError } from './errors.js';
export type { LifecycleErrorCode } from './errors.js';
export { DEFAULT_MESSAGES, LIFECYCLE_CODES, LIFECYCLE_STATES, isLifecycleState } from './states.js';
export type { InactiveState, LifecycleRecord, LifecycleState } from './states.js';
export {
  ENV_MESSAGE,
  ENV_RETRY_AFTER,
  ENV_STATE,
  EnvSource,
  FileSource,
  LIFECYCLE_DB_FILE,
  MemorySource,
  SqliteSource,
} from './sources.js';
export type { LifecycleSource } from './sources.js';
export { RedisLifecycleSource } from './source-redis.js';
export type { RedisLifecycleSourceOptions } from './source-redis.js';
export { HealthBoard, STATUS_CONTENT_TYPES, renderStatus, statusFormatFor } from './health.js';
export type {
  HealthCheckFunction,
  HealthCheckOptions,
  HealthCheckResult,
  CheckState,
  HealthBoardOptions,
  Readiness,
  StatusField,
  StatusFormat,
  StatusReport,
  StatusValue,
} from './health.js';
export { checkShutdownMs, installShutdownHandlers } from './shutdown.js';
export type { ShutdownOptions, ShutdownTarget } from './shutdown.js';
export { lifecycleReadSchema, lifecycleUpdateSchema } from './admin.js';
export type { LifecycleUpdate } from './admin.js';
export { runLifecycleCommand } from './cli.js';
export type { LifecycleCliIO } from './cli.js';
export { StateCheck } from './state-check.js';
export type { StateCheckExtra, StateCheckOptions } from './state-check.js';
export { GatedResponder, escapeHtml, maintenancePage, prefersHtml } from './gated-response.js';
export type { GatedAnswer, GatedRequestContext, LifecycleRespond } from './gated-response.js';
export { healthResponse, readyResponse, statusResponse } from './responses.js';
export type { RawResponse } from './responses.js';
export { RemoteControl, RemoteLifecycleSource, remoteControl, GATEHOUSE_FIELDS, REMOTE_ENV } from './remote/index.js';
export type {
  FailMode,
  PxStatus,
  RemoteControlEvent,
  RemoteControlEvents,
  RemoteControlMiddlewareOptions,
  RemoteControlOptions,
  RemoteStatusListener,
  RemoteUpdateInfo,
} from './remote/index.js';
export { FOLLOWER_LIVE_MS, HEARTBEAT_MS, isLiveFollower } from './followers.js';
export type { Follower, FollowerInfo } from './followers.js';
