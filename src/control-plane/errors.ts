import { CodedError, type CodedErrorOptions, type ErrorTable } from '../errors.js';

/** Every code the control plane throws, with the status the admin API answers it with and a short title. */
export const CONTROL_PLANE_ERRORS = {
  /** An option of `new ControlPlane()` is invalid (names the option). */
  ERR_CONTROL_OPTIONS: { status: 500, title: 'Invalid option' },
  /** A project name, state, message, fail mode or token given to a method is invalid. */
  ERR_CONTROL_INPUT: { status: 400, title: 'Invalid input' },
  /** No project of that name (or no such token). */
  ERR_CONTROL_NOT_FOUND: { status: 404, title: 'Not found' },
  /** A project of that name exists already. */
  ERR_CONTROL_CONFLICT: { status: 409, title: 'Conflict' },
  /** The control plane was closed. */
  ERR_CONTROL_CLOSED: { status: 503, title: 'Control plane closed' },
  /** The admin API was called without the admin token, or with a wrong one. */
  ERR_CONTROL_ADMIN_AUTH: { status: 401, title: 'Admin token required' },
  /** Too many bad admin tokens from this client address: slowed or locked out for a while (`Retry-After`). */
  ERR_ADMIN_THROTTLED: { status: 429, title: 'Too many bad admin tokens' },
  /** The project store (SQLite or Redis) failed. */
  ERR_CONTROL_STORE: { status: 500, title: 'Project store failed' },
} as const satisfies ErrorTable<string>;

/** Codes of the control plane (ControlPlane, its stores and admin API): the keys of {@link CONTROL_PLANE_ERRORS}. */
export type ControlPlaneErrorCode = keyof typeof CONTROL_PLANE_ERRORS;

/** Options for {@link ControlPlaneError}: the code, and a status other than the table's or the underlying error. */
export type ControlPlaneErrorOptions = CodedErrorOptions<ControlPlaneErrorCode>;

/**
 * An error of the control plane. Carries an HTTP status so the admin API answers it as a problem
 * (400 bad input, 404 unknown project, 409 duplicate name, 401 admin token).
 */
export class ControlPlaneError extends CodedError<ControlPlaneErrorCode> {
  constructor(message: string, options: ControlPlaneErrorOptions) {
    super(message, options, CONTROL_PLANE_ERRORS);
  }
}
