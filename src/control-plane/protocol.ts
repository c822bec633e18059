/**
 * The server side of the PXControl wire protocol (../shared/PXCONTROL.md): the status object sent in frames
 * and poll answers, with gatehouse's own extra fields, and the heartbeat a client sends.
 */
import type { LifecycleState, PxStatus } from '../lifecycle/index.js';
import { DEFAULT_MESSAGES } from '../lifecycle/internal.js';
import type { FailMode, ProjectRecord } from './types.js';

export { CLOSE_INVALID_TOKEN, CLOSE_REVOKED } from './close-codes.js';

/**
 * A status object: the PXControl fields, then gatehouse's own (stock SDKs ignore unknown fields).
 * `status` is what a stock SDK gates on, so MAINTENANCE travels as PAUSED with the maintenance message in
 * `pause_message`; `gatehouse_status` carries the real state.
 */
export interface StatusObject {
  status: PxStatus;
  fail_mode: FailMode;
  pause_message: string;
  offline_message: string;
  /** The real state, MAINTENANCE included. */
  gatehouse_status: LifecycleState;
  /** The MAINTENANCE message (gatehouse clients show it while `gatehouse_status` is MAINTENANCE). */
  maintenance_message: string;
  /** The message of the current state (`null` while ACTIVE). */
  message: string | null;
  /** Seconds a client should wait before retrying while not ACTIVE, or `null`. */
  retry_after_sec: number | null;
  /** The project's name. */
  project: string;
  /** When the status last changed, ISO 8601. */
  updated_at: string;
}

/** The status frame sent on open and on every change. */
export type StatusFrame = { type: 'status' } & StatusObject;

/** The message a state shows, with the default when the project has none. */
export function messageFor(project: ProjectRecord, state: LifecycleState): string | null {
  switch (state) {
    case 'ACTIVE':
      return null;
    case 'PAUSED':
      return project.pauseMessage ?? DEFAULT_MESSAGES.PAUSED;
    case 'MAINTENANCE':
      return project.maintenanceMessage ?? DEFAULT_MESSAGES.MAINTENANCE;
    case 'OFFLINE':
    case 'FAILED':
      return project.offlineMessage ?? DEFAULT_MESSAGES[state];
  }
}

/** The status object of a project, for frames and poll answers. */
export function statusObject(project: ProjectRecord): StatusObject {
  const state = project.state;
  const maintenance = state === 'MAINTENANCE';
  return {
    status: state === 'MAINTENANCE' ? 'PAUSED' : state,
    fail_mode: project.failMode,
    pause_message: maintenance
      ? (messageFor(project, 'MAINTENANCE') as string)
      : (messageFor(project, 'PAUSED') as string),
    offline_message: project.offlineMessage ?? DEFAULT_MESSAGES.OFFLINE,
    gatehouse_status: project.state,
    maintenance_message: messageFor(project, 'MAINTENANCE') as string,
    message: messageFor(project, project.state),
    retry_after_sec: project.state === 'ACTIVE' ? null : project.retryAfterSec,
    project: project.name,
    updated_at: new Date(project.updatedAt).toISOString(),
  };
}

/** The status frame of a project, serialised once and sent to every socket of it. */
export function statusFrame(project: ProjectRecord): string {
  return JSON.stringify({ type: 'status', ...statusObject(project) } satisfies StatusFrame);
}

/** The `revoked` frame. */
export function revokedFrame(reason: string): string {
  return JSON.stringify({ type: 'revoked', reason });
}

/** An `error` frame. */
export function errorFrame(code: string, message: string): string {
  return JSON.stringify({ type: 'error', code, message });
}

/** What a heartbeat tells about an instance (each field already checked: a short string, or absent). */
export interface Heartbeat {
  sdkVersion: string | undefined;
  language: string | undefined;
  env: string | undefined;
}

const MAX_FIELD = 64;

function field(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  return v.length > 0 && v.length <= MAX_FIELD ? v : undefined;
}

/**
 * Read one client message. Resolves to a heartbeat, `'ignore'` for a JSON object of another (or no) type
 * (clients of newer versions may send more), or `'invalid'` for anything that is not a JSON object.
 */
export function parseClientMessage(text: string): Heartbeat | 'ignore' | 'invalid' {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return 'invalid';
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return 'invalid';
  const o = data as Record<string, unknown>;
  if (o.type !== 'heartbeat') return 'ignore';
  return { sdkVersion: field(o.sdk_version), language: field(o.language), env: field(o.env) };
}

/**
 * SDK and language from a `User-Agent` such as `pxcontrol-sdk-node/0.1.3`, `pxcontrol-python/0.1.3` or
 * gatehouse's `gatehouse/0.1.0 (pxcontrol; node 24.1.0)`, until the first heartbeat says.
 */
export function fromUserAgent(ua: string | undefined): {
  sdkVersion: string | undefined;
  language: string | undefined;
} {
  if (ua === undefined) return { language: undefined, sdkVersion: undefined };
  const px = /pxcontrol(?:-sdk)?-(node|python)\/([0-9A-Za-z.+-]{1,32})/.exec(ua);
  if (px) return { language: px[1], sdkVersion: px[2] };
  const gh = /^gatehouse\/([0-9A-Za-z.+-]{1,32})/.exec(ua);
  return gh ? { language: 'node', sdkVersion: gh[1] } : { language: undefined, sdkVersion: undefined };
}

/** One entry of the version catalogue. */
export interface SdkVersionEntry {
  /** The newest SDK version. */
  latest: string;
  /** The oldest version still supported. */
  minimum_supported: string;
  /** Where the changes are listed, or `null`. */
  changelog_url: string | null;
}
