/**
 * The lifecycle's names other capabilities need (the portal's routes, store chooser and shutdown, the control
 * plane, the CLI) but users do not import. Users import `index.ts` (`gatehouse/lifecycle`).
 */
import type * as LifecycleCli from './cli.js';

export { createLifecycleSource } from './create-source.js';
export { resolveLifecycleOptions } from './options.js';
export type { LifecycleGateStep, ResolvedLifecycleOptions } from './options.js';
export { LIFECYCLE_ERRORS, SERVICE_UNAVAILABLE_ERRORS, lifecycleChecks } from './errors.js';
export { MAX_MESSAGE_LENGTH, MAX_RETRY_AFTER_SEC, validateRecord } from './states.js';
export { ENV_MESSAGE, ENV_RETRY_AFTER, ENV_STATE } from './sources.js';
export { LIFECYCLE_DB_FILE } from './source-sqlite.js';
export { HealthBoard, STATUS_CONTENT_TYPES, renderStatus, statusFormatFor } from './health.js';
export type { HealthBoardOptions, Readiness } from './health.js';
export { checkShutdownMs, defaultDrainDelayMs, installShutdownHandlers } from './shutdown.js';
export { StartupChecks } from './startup-check.js';
export type { ShutdownOptions, ShutdownTarget } from './shutdown.js';
export { lifecycleReadSchema, lifecycleUpdateSchema } from './admin.js';
export type { LifecycleUpdate } from './admin.js';
/** The `gatehouse lifecycle` command; its module (and the stores it reads) loads when it runs. */
export async function runLifecycleCommand(
  ...args: Parameters<typeof LifecycleCli.runLifecycleCommand>
): Promise<number> {
  return (await import('./cli.js')).runLifecycleCommand(...args);
}
export type { LifecycleCliIO } from './cli.js';
export { GatedResponder, escapeHtml, maintenancePage } from './gated-response.js';
export { healthResponse, readyResponse, statusResponse } from './responses.js';
export type { RawResponse } from './responses.js';
export { DEFAULT_WS_URL, resolveRemoteOptions } from './remote/options.js';
export type { ResolvedRemoteOptions } from './remote/options.js';
export { PX_STATUSES } from './remote/frames.js';
export { stateFileName } from './remote/state-file.js';
export { DEFAULT_MESSAGES, LIFECYCLE_CODES } from './states.js';
export { FOLLOWER_LIVE_MS, HEARTBEAT_MS, isLiveFollower } from './followers.js';
export { REMOTE_ENV } from './remote/options.js';
export { GATEHOUSE_FIELDS } from './remote/frames.js';
