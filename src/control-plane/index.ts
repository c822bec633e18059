/**
 * The control plane: a self-hosted, PXControl-compatible server (projects, hashed tokens, the five states,
 * instances from heartbeats, admin API, audit log, live dashboard) and its `gatehouse control-plane` CLI.
 */
export { ControlPlane } from './control-plane.js';
export type {
  ActorOption,
  ControlPlaneRunOptions,
  CreateProjectOptions,
  ProjectStatus,
  ProjectView,
  SetProjectStatusOptions,
  TokenView,
} from './control-plane.js';
export { ControlPlaneError } from './errors.js';
export type { ControlPlaneErrorOptions } from './errors.js';
export { DEFAULTS as CONTROL_PLANE_DEFAULTS } from './options.js';
export type { ControlPlaneOptions, SdkVersionOptions } from './options.js';
export { CLOSE_INVALID_TOKEN, CLOSE_REVOKED, statusObject } from './protocol.js';
export type { SdkVersionEntry, StatusFrame, StatusObject } from './protocol.js';
export type { ProjectStore, StoreEvent, StoreSnapshot } from './store.js';
export { CONTROL_DB_FILE } from './store-sqlite.js';
export type { AuditAction, AuditEntry, FailMode, InstanceInfo, ProjectRecord, TokenRecord } from './types.js';
export { runControlPlaneCommand } from './cli.js';
