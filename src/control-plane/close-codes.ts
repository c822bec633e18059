/** Close code for a token the control plane does not know. */
export const CLOSE_INVALID_TOKEN = 4001;
/** Close code for a revoked (or rotated) token. */
export const CLOSE_REVOKED = 4002;
