/**
 * `gatehouse/lifecycle`: lifecycle gating and status as users import it: the state machine and its sources,
 * status checks, remote control over the PXControl protocol and the `remoteControl()` middleware. Nothing heavy
 * loads here: the remote client and `ws` load when a RemoteControl connects, Redis through the portal's `redis`.
 * What other capabilities need beside this lives in `internal.ts`.
 */
export { Lifecycle } from './lifecycle.js';
export type { LifecycleListener, LifecycleSnapshot, SetStateOptions } from './lifecycle.js';
export type { LifecycleOptions, LifecycleRouteMode, LifecycleSourceName } from './options.js';
export { LifecycleError, ServiceUnavailableError } from './errors.js';
export type {
  LifecycleErrorCode,
  LifecycleErrorOptions,
  ServiceUnavailableCode,
  ServiceUnavailableErrorOptions,
} from './errors.js';
export { LIFECYCLE_STATES, isLifecycleState } from './states.js';
export type { InactiveState, LifecycleRecord, LifecycleState } from './states.js';
export { EnvSource, MemorySource } from './sources.js';
export { FileSource } from './source-file.js';
export { SqliteSource } from './source-sqlite.js';
export type { LifecycleSource } from './sources.js';
export { RedisLifecycleSource } from './source-redis.js';
export type { RedisLifecycleSourceOptions } from './source-redis.js';
export type {
  CheckState,
  HealthCheckFunction,
  HealthCheckOptions,
  HealthCheckResult,
  StatusField,
  StatusFormat,
  StatusReport,
  StatusValue,
} from './health.js';
export { StateCheck } from './state-check.js';
export type { StartupCheckFunction, StartupCheckOptions } from './startup-check.js';
export type { StateCheckExtra, StateCheckOptions } from './state-check.js';
export { prefersHtml } from './gated-response.js';
export type { GatedAnswer, GatedRequestContext, LifecycleRespond } from './gated-response.js';
export type { Follower, FollowerInfo } from './followers.js';
export { RemoteControl } from './remote/remote-control.js';
export type { RemoteControlEvent, RemoteControlEvents, RemoteStatusListener } from './remote/events.js';
export { RemoteLifecycleSource } from './remote/source.js';
export { remoteControl } from './remote/middleware.js';
export type { RemoteControlMiddlewareOptions } from './remote/middleware.js';
export type { FailMode, RemoteControlOptions } from './remote/options.js';
export type { PxStatus } from './remote/frames.js';
export type { RemoteUpdateInfo } from './remote/version-check.js';
