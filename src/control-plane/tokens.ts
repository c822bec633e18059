import { nodeCrypto } from '../load.js';
import type { TokenRecord } from './types.js';

/** What a project token looks like: `px_` and 43 url-safe base64 characters (32 random bytes). */
export const PROJECT_TOKEN_PATTERN = /^px_[A-Za-z0-9_-]{32,128}$/;

/** A new project token: `px_` + 32 random bytes in base64url (43 characters). */
export function newProjectToken(): string {
  return `px_${nodeCrypto().randomBytes(32).toString('base64url')}`;
}

/** The stored form of a token: SHA-256, hex. Tokens carry 256 random bits, so a fast hash is enough. */
export function hashToken(token: string): string {
  return nodeCrypto().createHash('sha256').update(token).digest('hex');
}

/** The first characters of a token, for telling tokens apart without showing them. */
export function tokenHint(token: string): string {
  return `${token.slice(0, 7)}…`;
}

/** A new project token (`px_` + 43 random characters) and its stored record (hash and hint only). */
export function issueToken(project: string, now: number): { token: string; record: TokenRecord } {
  const token = newProjectToken();
  const record: TokenRecord = {
    hash: hashToken(token),
    project,
    hint: tokenHint(token),
    createdAt: now,
    revokedAt: null,
    revokedReason: null,
  };
  return { token, record };
}

/** Compare a presented secret with the expected one in constant time (both hashed first, so lengths never leak). */
export function sameSecret(presented: string, expected: Buffer): boolean {
  return nodeCrypto().timingSafeEqual(nodeCrypto().createHash('sha256').update(presented).digest(), expected);
}

/** The SHA-256 digest `sameSecret` compares against. */
export function secretDigest(secret: string): Buffer {
  return nodeCrypto().createHash('sha256').update(secret).digest();
}
