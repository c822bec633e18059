import { MAX_MESSAGE_LENGTH, MAX_RETRY_AFTER_SEC, isLifecycleState, type LifecycleState } from '../states.js';
import type { FailMode } from './options.js';

/** The statuses the PXControl protocol knows. */
export const PX_STATUSES = ['ACTIVE', 'PAUSED', 'OFFLINE', 'FAILED'] as const;

/** One PXControl status. */
export type PxStatus = (typeof PX_STATUSES)[number];

/**
 * Names of the extra fields a gatehouse control plane may add to `status` frames and poll answers (stock
 * PXControl SDKs ignore them; a stock server never sends them):
 * - `gatehouse_status`: the full gatehouse state (`ACTIVE` | `PAUSED` | `MAINTENANCE` | `OFFLINE` | `FAILED`),
 *   which wins over `status` (the server still sends a stock `status`, e.g. `PAUSED` for MAINTENANCE);
 * - `retry_after_sec`: seconds for `Retry-After` while not ACTIVE (whole number, 0 to 604800; `null` clears it);
 * - `maintenance_message`: the message shown while in MAINTENANCE (`null` clears it).
 */
export const GATEHOUSE_FIELDS = Object.freeze({
  status: 'gatehouse_status',
  retryAfterSec: 'retry_after_sec',
  maintenanceMessage: 'maintenance_message',
} as const);

/**
 * What one status frame (or poll answer) says. A field is `undefined` when the frame omits it (keep the last
 * value) and `null` when the frame clears it (use the default).
 */
export interface StatusFields {
  status?: PxStatus;
  gatehouseStatus?: LifecycleState;
  failMode?: FailMode;
  pauseMessage?: string | null;
  offlineMessage?: string | null;
  maintenanceMessage?: string | null;
  retryAfterSec?: number | null;
}

/** A frame from the server, as far as this client understands it. */
export type ServerFrame =
  | { type: 'status'; fields: StatusFields }
  | { type: 'revoked'; reason: string }
  | { type: 'error'; code: string; message: string }
  | { type: 'ignored'; why: string };

function isPxStatus(v: unknown): v is PxStatus {
  return typeof v === 'string' && (PX_STATUSES as readonly string[]).includes(v);
}

function message(v: unknown): string | null | undefined {
  if (v === null) return null;
  if (typeof v !== 'string') return undefined;
  return v.length > MAX_MESSAGE_LENGTH ? v.slice(0, MAX_MESSAGE_LENGTH) : v;
}

function shortText(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v.slice(0, 200) : fallback;
}

/**
 * Read the fields of a status object (a `status` frame or a poll answer). Returns `undefined` when the object
 * names a status this client does not know: the whole frame is then ignored, so the state stays intact.
 * Unknown fields are ignored; a known field with a value of the wrong type is ignored on its own.
 */
export function parseStatusFields(o: Record<string, unknown>): StatusFields | undefined {
  const fields: StatusFields = {};
  if (o.status !== undefined) {
    if (!isPxStatus(o.status)) return undefined;
    fields.status = o.status;
  }
  const gh = o[GATEHOUSE_FIELDS.status];
  if (isLifecycleState(gh)) fields.gatehouseStatus = gh;
  if (o.fail_mode === 'open' || o.fail_mode === 'closed') fields.failMode = o.fail_mode;
  const pause = message(o.pause_message);
  if (pause !== undefined) fields.pauseMessage = pause;
  const offline = message(o.offline_message);
  if (offline !== undefined) fields.offlineMessage = offline;
  const maintenance = message(o[GATEHOUSE_FIELDS.maintenanceMessage]);
  if (maintenance !== undefined) fields.maintenanceMessage = maintenance;
  const retry = o[GATEHOUSE_FIELDS.retryAfterSec];
  if (retry === null) fields.retryAfterSec = null;
  else if (typeof retry === 'number' && Number.isInteger(retry) && retry >= 0 && retry <= MAX_RETRY_AFTER_SEC)
    fields.retryAfterSec = retry;
  return fields;
}

/** Parse one text frame. Anything that is not a JSON object with a known `type` comes back as `ignored`. */
export function parseFrame(text: string): ServerFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { type: 'ignored', why: 'not JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { type: 'ignored', why: 'not a JSON object' };
  const o = value as Record<string, unknown>;
  switch (o.type) {
    case 'status': {
      const fields = parseStatusFields(o);
      return fields
        ? { type: 'status', fields }
        : { type: 'ignored', why: `unknown status ${JSON.stringify(o.status).slice(0, 40)}` };
    }
    case 'revoked':
      return { type: 'revoked', reason: shortText(o.reason, 'token revoked') };
    case 'error':
      return { type: 'error', code: shortText(o.code, 'unknown'), message: shortText(o.message, '') };
    default:
      return { type: 'ignored', why: `unknown frame type ${JSON.stringify(o.type ?? null).slice(0, 40)}` };
  }
}

/** The heartbeat frame the client sends. */
export interface HeartbeatFrame {
  type: 'heartbeat';
  sdk_version: string;
  language: 'node';
  env: string;
  timestamp: number;
}
