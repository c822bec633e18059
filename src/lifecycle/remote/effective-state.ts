import type { LifecycleState } from '../states.js';
import type { PxStatus, StatusFields } from './frames.js';
import type { KnownState } from './state-file.js';

/** Message while OFFLINE because contact is lost in closed mode and the project set no offline message. */
const CONTACT_LOST_MESSAGE = 'The service is offline: its remote control cannot be reached.';
/** Message while OFFLINE in closed mode before the first connection attempt has settled. */
const STARTING_MESSAGE = 'The service is starting: waiting for its remote control.';

/** The state a {@link RemoteControl} gates with, with the message and `Retry-After` that go with it. */
export interface EffectiveState {
  state: LifecycleState;
  message: string | undefined;
  retryAfterSec: number | undefined;
}

/** What the effective state is derived from (see the {@link RemoteControl} class doc). */
export interface EffectiveInputs {
  /** The last state heard from the control plane, if any. */
  known: KnownState | undefined;
  /** The token was revoked, or the server refused it on the poll. */
  refused: boolean;
  /** A socket delivered a status, or the last poll succeeded. */
  contact: boolean;
  /** A persisted state holds in closed mode until the first connection attempt fails. */
  bootGrace: boolean;
  /** The first connection attempt has not settled yet. */
  firstAttempt: boolean;
}

/** The effective state from what is known and the contact with the control plane, with the project's fail mode applied. */
export function computeEffective(i: EffectiveInputs): EffectiveState {
  const k = i.known;
  const offline = { state: 'OFFLINE' as const, message: k?.offlineMessage, retryAfterSec: undefined };
  if (i.refused) return offline;
  const failMode = k?.failMode ?? 'closed';
  if (!i.contact && !i.bootGrace && failMode === 'closed')
    return {
      ...offline,
      message: k?.offlineMessage ?? (i.firstAttempt ? STARTING_MESSAGE : CONTACT_LOST_MESSAGE),
    };
  if (!k) return { state: 'ACTIVE', message: undefined, retryAfterSec: undefined };
  const state: LifecycleState = k.gatehouseStatus ?? k.status;
  const message =
    state === 'PAUSED'
      ? k.pauseMessage
      : state === 'MAINTENANCE'
        ? (k.maintenanceMessage ?? k.pauseMessage)
        : state === 'OFFLINE' || state === 'FAILED'
          ? k.offlineMessage
          : undefined;
  return { state, message, retryAfterSec: state === 'ACTIVE' ? undefined : k.retryAfterSec };
}

/**
 * The known state after a status: the fields it sent over the last known state (`null` clears a field, a missing
 * field keeps it), heard now.
 */
export function mergeKnown(prev: KnownState | undefined, fields: StatusFields, status: PxStatus): KnownState {
  const pick = <T>(v: T | null | undefined, last: T | undefined): T | undefined =>
    v === undefined ? last : v === null ? undefined : v;
  return {
    status,
    // A stock status without a gatehouse state means the stock state (a stock server never sends one).
    gatehouseStatus: fields.gatehouseStatus ?? (fields.status !== undefined ? undefined : prev?.gatehouseStatus),
    failMode: fields.failMode ?? prev?.failMode ?? 'closed',
    pauseMessage: pick(fields.pauseMessage, prev?.pauseMessage),
    offlineMessage: pick(fields.offlineMessage, prev?.offlineMessage),
    maintenanceMessage: pick(fields.maintenanceMessage, prev?.maintenanceMessage),
    retryAfterSec: pick(fields.retryAfterSec, prev?.retryAfterSec),
    heardAt: Date.now(),
  };
}

/** Whether two known states say the same, apart from when they were heard (an unchanged state is not saved again). */
export function sameKnown(a: KnownState, b: KnownState): boolean {
  return (
    a.status === b.status &&
    a.gatehouseStatus === b.gatehouseStatus &&
    a.failMode === b.failMode &&
    a.pauseMessage === b.pauseMessage &&
    a.offlineMessage === b.offlineMessage &&
    a.maintenanceMessage === b.maintenanceMessage &&
    a.retryAfterSec === b.retryAfterSec
  );
}
