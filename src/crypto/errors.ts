import { GatehouseError, type CryptoErrorCode } from '../errors.js';

export type { CryptoErrorCode };

/** Options for {@link CryptoError}. */
export interface CryptoErrorOptions {
  /** Stable machine-readable code. */
  code: CryptoErrorCode;
  /** The underlying error, if any (never set on `ERR_FERNET_INVALID`: a cause would tell failures apart). */
  cause?: unknown;
}

/** Error thrown by the crypto capability (Fernet); branch on `code`. */
export class CryptoError extends GatehouseError {
  declare readonly code: CryptoErrorCode;

  /** @param message - human-readable description (names the offending option, never a key or a token) */
  constructor(message: string, options: CryptoErrorOptions) {
    super(message, { code: options.code, cause: options.cause });
  }
}
