/** The crypto capability's errors: one table of codes (status and title) and the `CryptoError` class. */
import { CodedError, type CodedErrorOptions, type ErrorTable } from '../errors.js';

/** Every code of the crypto capability (Fernet) with its status and title. */
export const CRYPTO_ERRORS = {
  /** A token failed to open, for whatever reason (one code, one message: no oracle). */
  ERR_FERNET_INVALID: { status: 500, title: 'Invalid token' },
  /** A key given to `new Fernet()` is not the url-safe base64 of 32 bytes. */
  ERR_FERNET_KEY: { status: 500, title: 'Invalid key' },
  /** An option or argument of `encrypt` / `decrypt` is invalid (names the option). */
  ERR_FERNET_OPTIONS: { status: 500, title: 'Invalid option' },
} as const satisfies ErrorTable<string>;

/** Codes of the crypto capability: the keys of {@link CRYPTO_ERRORS}. */
export type CryptoErrorCode = keyof typeof CRYPTO_ERRORS;

/** Options for {@link CryptoError}; `cause` is never set on `ERR_FERNET_INVALID` (it would tell failures apart). */
export type CryptoErrorOptions = CodedErrorOptions<CryptoErrorCode>;

/** Error thrown by the crypto capability (Fernet); branch on `code`. Messages never hold a key or a token. */
export class CryptoError extends CodedError<CryptoErrorCode> {
  constructor(message: string, options: CryptoErrorOptions) {
    super(message, options, CRYPTO_ERRORS);
  }
}
