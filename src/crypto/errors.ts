/** The crypto capability's errors: one table of codes (status and title) and the `CryptoError` class. */
import { GatehouseError, type ErrorTable } from '../errors.js';

/**
 * Codes of the crypto capability (Fernet):
 * - `ERR_FERNET_INVALID`: a token failed to open, for whatever reason (one code, one message: no oracle).
 * - `ERR_FERNET_KEY`: a key given to `new Fernet()` is not the url-safe base64 of 32 bytes.
 * - `ERR_FERNET_OPTIONS`: an option or argument of `encrypt` / `decrypt` is invalid (names the option).
 */
export type CryptoErrorCode = 'ERR_FERNET_INVALID' | 'ERR_FERNET_KEY' | 'ERR_FERNET_OPTIONS';

/** Every code of the crypto capability with its status and title. */
export const CRYPTO_ERRORS = {
  ERR_FERNET_INVALID: { status: 500, title: 'Invalid token' },
  ERR_FERNET_KEY: { status: 500, title: 'Invalid key' },
  ERR_FERNET_OPTIONS: { status: 500, title: 'Invalid option' },
} as const satisfies ErrorTable<CryptoErrorCode>;

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
    super(message, { code: options.code, cause: options.cause, status: CRYPTO_ERRORS[options.code].status });
  }
}
