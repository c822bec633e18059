/**
 * Remote lifecycle control over the PXControl protocol: the protocol client, `RemoteControl` (one per process
 * with `shared()`), the `'remote'` lifecycle source and the `remoteControl()` express middleware.
 */
export { RemoteControl } from './remote-control.js';
export type { RemoteControlEvent, RemoteControlEvents, RemoteStatusListener } from './remote-control.js';
export { RemoteLifecycleSource } from './source.js';
export { remoteControl } from './middleware.js';
export type { RemoteControlMiddlewareOptions } from './middleware.js';
export { DEFAULT_WS_URL, REMOTE_ENV, resolveRemoteOptions } from './options.js';
export type { FailMode, RemoteControlOptions, ResolvedRemoteOptions } from './options.js';
export { GATEHOUSE_FIELDS, PX_STATUSES } from './frames.js';
export type { PxStatus } from './frames.js';
export { TERMINAL_CLOSE_CODES, compareVersions } from './client.js';
export type { RemoteUpdateInfo } from './client.js';
export { stateFileName } from './state-file.js';
