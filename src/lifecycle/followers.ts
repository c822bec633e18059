import { hostname } from 'node:os';
import { nodeCrypto } from '../load.js';

/**
 * Followers: every Lifecycle that follows a shared store (SQLite, file) keeps a heartbeat entry in it (pid, host,
 * name, lastSeen), refreshed every {@link HEARTBEAT_MS} and removed on close. The `gatehouse lifecycle` CLI reads
 * them to say how many running portals a change reaches.
 */

/** Who follows a store: what the Lifecycle tells its source when it starts watching. */
export interface FollowerInfo {
  /** Service name shown by the CLI (the portal's `name`). */
  name: string;
}

/** One heartbeat entry in a shared store. */
export interface Follower {
  /** Unique per follower (host, pid and a random suffix: one process may follow twice). */
  id: string;
  pid: number;
  host: string;
  name: string;
  /** When it started following (epoch ms). */
  startedAt: number;
  /** Last heartbeat (epoch ms). */
  lastSeen: number;
}

/** How often a follower refreshes its entry, in ms. */
export const HEARTBEAT_MS = 1000;
/** A follower whose last heartbeat is older than this is not counted as running, in ms. */
export const FOLLOWER_LIVE_MS = 5000;
/** Entries older than this (crashed processes) are deleted by the next follower that registers, in ms. */
export const FOLLOWER_PRUNE_MS = 3_600_000;

/**
 * A new follower entry for this process.
 * @param info - the name to list it under
 * @param now - start time (epoch ms)
 * @returns the entry, with a fresh id
 */
export function newFollower(info: FollowerInfo, now: number = Date.now()): Follower {
  const host = hostname();
  return {
    id: `${host}:${process.pid}:${nodeCrypto().randomUUID().slice(0, 8)}`,
    pid: process.pid,
    host,
    name: info.name,
    startedAt: now,
    lastSeen: now,
  };
}

/**
 * Whether a follower entry belongs to a running process: a heartbeat within {@link FOLLOWER_LIVE_MS}, and, on this
 * host, a process with that pid (a process killed with -9 leaves its entry behind).
 * @param f - the entry
 * @param now - the time to judge by (epoch ms)
 * @returns whether to count it as running
 */
export function isLiveFollower(f: Follower, now: number = Date.now()): boolean {
  if (now - f.lastSeen > FOLLOWER_LIVE_MS) return false;
  if (f.host !== hostname()) return true;
  try {
    process.kill(f.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Run a heartbeat: `beat()` now and every {@link HEARTBEAT_MS} (the timer never holds the process open); the
 * returned stop function clears it and calls `remove()`. A failing beat (a busy store) is retried on the next tick.
 * @param beat - writes the entry with a fresh lastSeen
 * @param remove - deletes the entry
 * @returns stop (idempotent)
 */
export function startHeartbeat(beat: () => void, remove: () => void): () => void {
  const safeBeat = (): void => {
    try {
      beat();
    } catch {
      // The store is busy or gone for a moment; the next beat tries again and readers allow FOLLOWER_LIVE_MS.
    }
  };
  safeBeat();
  const timer = setInterval(safeBeat, HEARTBEAT_MS);
  timer.unref();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    try {
      remove();
    } catch {
      // Left behind: readers stop counting it after FOLLOWER_LIVE_MS.
    }
  };
}

/** `notes pid 123 on host-a` for CLI messages. */
export function describeFollower(f: Follower): string {
  return `${f.name} pid ${f.pid} on ${f.host}`;
}
