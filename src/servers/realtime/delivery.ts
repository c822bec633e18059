import type { DefaultEventsMap, RemoteSocket } from 'socket.io';
import type { Logger } from '../../logger.js';
import { RealtimeError } from './errors.js';
import { GROUP_PREFIX, USER_PREFIX, checkEvent, checkName } from './names.js';
import type { RealtimeServer, RealtimeSocket, RealtimeSocketData } from './types.js';

function countGroups(rooms: ReadonlySet<string>): number {
  let n = 0;
  for (const room of rooms) if (room.startsWith(GROUP_PREFIX)) n++;
  return n;
}

/**
 * Delivery and groups on Socket.IO rooms: `user:<id>` holds every socket of a user, `group:<name>` a group, so
 * both reach every instance that shares the adapter.
 */
export class Delivery {
  constructor(
    private readonly io: RealtimeServer,
    private readonly maxGroupsPerSocket: number,
    private readonly log: Logger,
  ) {}

  /** Send an event to every socket of a user (every tab, every instance sharing the adapter). */
  sendToUser(userId: string, event: string, payload?: unknown): void {
    this.io.to(USER_PREFIX + checkName('userId', userId)).emit(checkEvent(event), payload);
  }

  /** Send an event to every socket in a group. */
  sendToGroup(group: string, event: string, payload?: unknown): void {
    this.io.to(GROUP_PREFIX + checkName('group', group)).emit(checkEvent(event), payload);
  }

  /** Send an event to every connected socket. */
  broadcast(event: string, payload?: unknown): void {
    this.io.emit(checkEvent(event), payload);
  }

  /**
   * Put a socket, or every socket of a user id (on every instance), into a group. Resolves to the number of
   * sockets that joined. A socket already in `maxGroupsPerSocket` groups fails with `ERR_GROUP_LIMIT` (for a
   * user id, such sockets are skipped and logged).
   */
  async joinGroup(target: RealtimeSocket | string, group: string): Promise<number> {
    const room = GROUP_PREFIX + checkName('group', group);
    const max = this.maxGroupsPerSocket;
    if (typeof target !== 'string') {
      if (target.rooms.has(room)) return 0;
      if (countGroups(target.rooms) >= max)
        throw new RealtimeError(`A socket may be in at most ${max} groups`, { code: 'ERR_GROUP_LIMIT', status: 429 });
      await target.join(room);
      return 1;
    }
    const sockets = await this.io.in(USER_PREFIX + checkName('userId', target)).fetchSockets();
    let joined = 0;
    for (const s of sockets) {
      if (s.rooms.has(room)) continue;
      if (countGroups(s.rooms) >= max) {
        this.log.warn({ socketId: s.id, group, max }, 'joinGroup: socket is at its group limit; skipped');
        continue;
      }
      s.join(room);
      joined++;
    }
    return joined;
  }

  /** Take a socket, or every socket of a user id, out of a group. */
  async leaveGroup(target: RealtimeSocket | string, group: string): Promise<void> {
    const room = GROUP_PREFIX + checkName('group', group);
    if (typeof target !== 'string') {
      await target.leave(room);
      return;
    }
    this.io.in(USER_PREFIX + checkName('userId', target)).socketsLeave(room);
  }

  /** User ids with at least one socket in a group, across instances (anonymous sockets are not listed). */
  async groupMembers(group: string): Promise<string[]> {
    const sockets: RemoteSocket<DefaultEventsMap, RealtimeSocketData>[] = await this.io
      .in(GROUP_PREFIX + checkName('group', group))
      .fetchSockets();
    const ids = new Set<string>();
    for (const s of sockets) {
      const id = s.data.identity?.id;
      if (id !== undefined) ids.add(id);
    }
    return [...ids];
  }
}
