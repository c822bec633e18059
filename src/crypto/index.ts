/**
 * Crypto: Fernet symmetric encryption (the fernet/spec format), interoperable with Python's
 * `cryptography.fernet`, on `node:crypto` only.
 */
export { Fernet, FERNET_MAX_CLOCK_SKEW_SEC } from './fernet.js';
export type { FernetEncryptOptions, FernetDecryptOptions } from './fernet.js';
export { CryptoError } from './errors.js';
export type { CryptoErrorCode, CryptoErrorOptions } from './errors.js';
