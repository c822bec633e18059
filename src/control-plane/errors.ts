import { GatehouseError, type ControlPlaneErrorCode } from '../errors.js';

/** Options of {@link ControlPlaneError}. */
export interface ControlPlaneErrorOptions {
  /** The stable code. */
  code: ControlPlaneErrorCode;
  /** HTTP status when the error reaches an admin API client. @defaultValue derived from the code */
  status?: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

const STATUS: Readonly<Record<ControlPlaneErrorCode, number>> = {
  ERR_CONTROL_OPTIONS: 500,
  ERR_CONTROL_INPUT: 400,
  ERR_CONTROL_NOT_FOUND: 404,
  ERR_CONTROL_CONFLICT: 409,
  ERR_CONTROL_CLOSED: 503,
  ERR_CONTROL_ADMIN_AUTH: 401,
  ERR_CONTROL_STORE: 500,
};

/**
 * An error of the control plane. Carries an HTTP status so the admin API answers it as a problem
 * (400 bad input, 404 unknown project, 409 duplicate name, 401 admin token).
 */
export class ControlPlaneError extends GatehouseError {
  constructor(message: string, options: ControlPlaneErrorOptions) {
    super(message, { code: options.code, status: options.status ?? STATUS[options.code], cause: options.cause });
  }
}
