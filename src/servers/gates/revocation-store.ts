/** Told about every revocation key (`jti` or token hash), local or from another process. */
export type RevocationListener = (key: string) => void;

/**
 * Where revoked tokens live. `has` runs on every authenticated request and socket event, so it must answer
 * from memory; implementations mirror their backing store locally and call `onRevoke` listeners for every key
 * they learn about, from this process or another. Built in: `SqliteRevocationStore` (revocation-sqlite.ts).
 */
export interface RevocationStore {
  /** Short name for logs, e.g. `'sqlite'`. */
  readonly name: string;
  /** Whether a key (token `jti` or hash) is revoked. Synchronous: a memory read. */
  has(key: string): boolean;
  /** Revoke a key until `expiresAtMs` (epoch ms); durable once the returned promise (if any) resolves. */
  add(key: string, expiresAtMs: number): void | Promise<void>;
  /** Listen for revocations; returns an unsubscribe function. */
  onRevoke(listener: (key: string) => void): () => void;
  /** Stop syncing and release handles. Safe to call twice. */
  close(): void | Promise<void>;
}
