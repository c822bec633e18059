/** What the ControlPlane's methods take and give: options of its calls and the views of projects and tokens. */
import type { StatusObject } from './protocol.js';
import type { FailMode, InstanceInfo, ProjectRecord } from './types.js';

/** Who made a change, for the audit log. */
export interface ActorOption {
  /** Recorded as the change's author. @defaultValue 'api' */
  actor?: string;
}

/** Options of `ControlPlane.createProject`. */
export interface CreateProjectOptions extends ActorOption {
  /** Letters, digits, `.`, `_`, `-`; at most 64 characters; unique. */
  name: string;
  /** @defaultValue 'closed' */
  failMode?: FailMode;
}

/** Options of `ControlPlane.setStatus`. */
export interface SetProjectStatusOptions extends ActorOption {
  /** Message for this state (PAUSED: pause message; MAINTENANCE: maintenance message; OFFLINE/FAILED: offline message). Omitted keeps the one set before; `null` or `''` restores the default. */
  message?: string | null;
  /** Seconds clients should wait before retrying; omitted or `null`: unset. */
  retryAfterSec?: number | null;
}

/** A token as the admin API and dashboard show it (never the token itself). */
export interface TokenView {
  hint: string;
  createdAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
}

/** A project with its tokens, its live instances and the status object its clients get. */
export interface ProjectView extends ProjectRecord {
  /** What clients receive (`status` frames and poll answers). */
  wire: StatusObject;
  tokens: TokenView[];
  instances: InstanceInfo[];
  /** Disconnected instances within the retention that are counted but not listed (beyond `maxDisconnectedInstances`). */
  instancesOmitted: number;
}

/** Options of `ControlPlane.run`. */
export interface ControlPlaneRunOptions {
  /** Port; 0 picks a free one. @defaultValue 4000 */
  port?: number;
  /** Interface to bind. @defaultValue '127.0.0.1' */
  host?: string;
  /** Install SIGTERM/SIGINT handlers that close the control plane. @defaultValue true */
  handleSignals?: boolean;
}

/** The status of a project as the CLI and `status()` report it. */
export type ProjectStatus = StatusObject;
