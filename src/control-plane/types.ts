import type { FailMode, LifecycleState } from '../lifecycle/index.js';

// The one fail-mode type: the remote client's (`closed`: the socket lost means OFFLINE; `open`: keep the last state).
export type { FailMode };

/** The fail modes, in the order the dashboard shows them. */
export const FAIL_MODES: readonly FailMode[] = ['closed', 'open'];

/** One project as stored: its state, fail mode and the message of each inactive state. */
export interface ProjectRecord {
  /** Unique name (letters, digits, `.`, `_`, `-`; at most 64 characters). */
  name: string;
  /** The state every instance of the project follows. */
  state: LifecycleState;
  /** Carried to clients in `fail_mode`. */
  failMode: FailMode;
  /** Message while PAUSED (`pause_message`); `null`: the default. */
  pauseMessage: string | null;
  /** Message while MAINTENANCE (sent to stock SDKs as `pause_message`); `null`: the default. */
  maintenanceMessage: string | null;
  /** Message while OFFLINE or FAILED (`offline_message`); `null`: the default. */
  offlineMessage: string | null;
  /** Seconds clients should wait before retrying while not ACTIVE (`retry_after_sec`); `null`: unset. */
  retryAfterSec: number | null;
  /** Creation time, epoch ms. */
  createdAt: number;
  /** Last change, epoch ms. */
  updatedAt: number;
  /** Who made the last change. */
  updatedBy: string;
}

/** One project token as stored: only its SHA-256 hash, never the token. */
export interface TokenRecord {
  /** SHA-256 of the token, hex. */
  hash: string;
  /** The project it opens. */
  project: string;
  /** The first characters of the token (`px_ab12…`), to tell tokens apart on the dashboard. */
  hint: string;
  /** Creation time, epoch ms. */
  createdAt: number;
  /** When it was revoked (epoch ms), or `null` while valid. */
  revokedAt: number | null;
  /** Why it was revoked (`token rotated`, `token revoked`, `project deleted`), sent in the `revoked` frame. */
  revokedReason: string | null;
}

/** What an audit entry records. */
export type AuditAction =
  | 'project.create'
  | 'project.delete'
  | 'status'
  | 'fail-mode'
  | 'token.rotate'
  | 'token.revoke'
  | 'admin.auth-failed'
  | 'admin.locked-out';

/** One change, as the audit log keeps it: who, when, what, from, to. */
export interface AuditEntry {
  /** When, epoch ms. */
  at: number;
  /** Who: `admin api <ip>`, `cli pid <n>`, `api` (the ControlPlane methods) or the caller's own `actor`. */
  actor: string;
  /** The project changed (`''` for `admin.*` entries, which concern no project). */
  project: string;
  /** What changed. */
  action: AuditAction;
  /** The value before (a state, a fail mode, a token hint), or `null`. */
  from: string | null;
  /** The value after, or `null`. */
  to: string | null;
  /** Extra detail (the message set), or `null`. */
  detail: string | null;
}

/** One connected (or recently connected) instance of a project, as `instances()` and the dashboard show it. */
export interface InstanceInfo {
  /** Id given by the control plane at connection time. */
  id: string;
  /** The project. */
  project: string;
  /** From the heartbeat's `sdk_version` (or the User-Agent until the first heartbeat); `null` when unknown. */
  sdkVersion: string | null;
  /** From the heartbeat's `language` (or the User-Agent); `null` when unknown. */
  language: string | null;
  /** From the heartbeat's `env`; `null` when unknown. */
  env: string | null;
  /** When the socket opened, epoch ms. */
  connectedAt: number;
  /** Last heartbeat (or the connection time before the first one), epoch ms. */
  lastSeenAt: number;
  /** Whether the socket is open. */
  connected: boolean;
  /** Not heard from for 3 heartbeat intervals. */
  stale: boolean;
  /** Client address as the control plane saw it. */
  address: string;
  /** Which control-plane process holds the socket (several share one Redis). */
  node: string;
}
