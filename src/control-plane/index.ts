/**
 * `gatehouse/control-plane`: a self-hosted, PXControl-compatible server (projects, hashed tokens, the five
 * states, instances from heartbeats, admin API, audit log, live dashboard). Importing it loads only the light
 * ControlPlane class; its portal, store, sockets and dashboard load when one is constructed. What other
 * capabilities need beside this lives in `internal.ts`.
 */
export { ControlPlane } from './control-plane.js';
export { ControlPlaneError } from './errors.js';
export type { ControlPlaneErrorCode, ControlPlaneErrorOptions } from './errors.js';
export type { ControlPlaneOptions, SdkVersionOptions } from './options.js';
export type { SdkVersionEntry, StatusObject } from './protocol.js';
export type { AuditAction, AuditEntry, InstanceInfo, ProjectRecord } from './types.js';
export type {
  ActorOption,
  ControlPlaneRunOptions,
  CreateProjectOptions,
  ProjectStatus,
  ProjectView,
  SetProjectStatusOptions,
  TokenView,
} from './views.js';
