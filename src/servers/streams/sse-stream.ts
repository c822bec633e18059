import type { ServerResponse } from 'node:http';
import type { Logger } from '../../logger.js';
import type { GateStep, Identity } from '../pipeline/index.js';
import { StreamError } from './errors.js';
import type { ResolvedStreamLimits } from './limits.js';
import { checkStreamEvent, checkStreamName } from './names.js';

/** What a stream needs from the hub that holds it. */
export interface StreamHost {
  /** Index (or unindex) the stream under a group. */
  group(stream: SseStream, group: string, joined: boolean): void;
  /** Forget the stream: its resume window is over, or it ended. */
  dispose(stream: SseStream, ended: boolean): void;
  readonly log: Logger;
}

interface Frame {
  seq: number;
  text: string;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One server-sent event stream: its event ids (`<stream id>-<n>`), its bounded replay buffer, its groups, and the
 * connection it currently writes to. A dropped connection leaves the stream detached for `resumeMs`, still in its
 * groups and buffering, so a reconnect with `Last-Event-ID` gets what it missed.
 *
 * @example
 * ```ts
 * portal.stream('/api/feed', { description: 'Live feed', input: z.object({ topic: z.string() }) }, async ({ input, stream }) => {
 *   await stream.joinGroup(`topic:${input.topic}`);
 *   stream.send('hello', { at: Date.now() });
 * });
 * ```
 */
export class SseStream {
  /** The stream's id: the first part of every event id it sends. */
  readonly id: string;
  /** The route it was opened on, `GET <path>`. */
  readonly route: string;
  /** Id of the identity that opened it (`null`: anonymous). */
  readonly owner: string | null;
  /** The groups it belongs to. */
  readonly groups = new Set<string>();
  /** The lifecycle step of its route, re-checked when the lifecycle changes. */
  admit: GateStep | undefined;
  /** Revocation key of the token it was opened with. */
  revocationKey: string | undefined;

  private seq = 0;
  private readonly frames: Frame[] = [];
  private bufferedBytes = 0;
  /** Highest event number no longer in the buffer. */
  private lostUpTo = 0;
  private res: ServerResponse | undefined;
  private controller = new AbortController();
  private heartbeat: NodeJS.Timeout | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(
    id: string,
    route: string,
    owner: Identity | null,
    private readonly limits: ResolvedStreamLimits,
    private readonly host: StreamHost,
  ) {
    this.id = id;
    this.route = route;
    this.owner = owner?.id ?? null;
  }

  /** Aborts when the current connection ends (client gone, dropped, closed): stop work done for it. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** How long the stream waits for a reconnect, in ms. */
  get resumeWindowMs(): number {
    return this.limits.resumeMs;
  }

  /** Whether a connection is attached now. */
  get connected(): boolean {
    return this.res !== undefined;
  }

  /** Whether the stream has ended for good (`close()`, revocation, lifecycle, shutdown). */
  get ended(): boolean {
    return this.finished;
  }

  /**
   * Send one event: `event` names it, `data` goes as JSON; returns the event id. Buffered for replay; while the
   * reader is away (within `resumeMs`) it waits in the buffer. A no-op returning `''` once the stream ended.
   */
  send(event: string, data?: unknown): string {
    checkStreamEvent(event);
    if (this.finished) return '';
    return this.push(event, JSON.stringify(data ?? null));
  }

  /** Join a group: `portal.sendToGroup(group, ...)` reaches this stream (and the group's sockets). */
  async joinGroup(group: string): Promise<void> {
    checkStreamName('group', group);
    if (this.finished || this.groups.has(group)) return;
    if (this.groups.size >= this.limits.maxGroups)
      throw new StreamError(`A stream may be in at most ${this.limits.maxGroups} groups`, {
        code: 'ERR_STREAM_GROUP_LIMIT',
      });
    this.groups.add(group);
    this.host.group(this, group, true);
  }

  /** Leave a group. */
  async leaveGroup(group: string): Promise<void> {
    checkStreamName('group', group);
    if (!this.groups.delete(group)) return;
    this.host.group(this, group, false);
  }

  /**
   * End the stream for good: an `event: close` goes out, the connection ends, and a reconnect with its
   * `Last-Event-ID` is answered 204 (which tells `EventSource` to stop). Safe to call twice.
   */
  close(): void {
    this.end('ERR_STREAM_CLOSED', 'The stream was closed by the server');
  }

  /** Add an event with already-serialised data (fan-out serialises once for every stream). */
  push(event: string, json: string): string {
    const id = `${this.id}-${++this.seq}`;
    const text = `id: ${id}\nevent: ${event}\ndata: ${json}\n\n`;
    const limits = this.limits;
    if (limits.replayEvents > 0) {
      this.frames.push({ seq: this.seq, text });
      this.bufferedBytes += text.length;
      while (this.frames.length > limits.replayEvents || this.bufferedBytes > limits.replayBytes) {
        const old = this.frames.shift()!;
        this.bufferedBytes -= old.text.length;
        this.lostUpTo = old.seq;
      }
    } else this.lostUpTo = this.seq;
    this.write(text);
    return id;
  }

  /** Whether every event after `seq` is still in the buffer. */
  canReplayAfter(seq: number): boolean {
    return Number.isSafeInteger(seq) && seq >= this.lostUpTo && seq <= this.seq;
  }

  /**
   * Write to a new connection (its headers already sent): the retry hint, then either the events after
   * `replayAfter`, or an `event: reset` when the reconnect cannot be replayed.
   */
  attach(res: ServerResponse, replayAfter: number | undefined, reset: string | undefined): void {
    const previous = this.res;
    if (previous) {
      // Taken over by a reconnect before the old connection was seen to drop: end the old one.
      this.detach(previous, true);
      previous.end();
    }
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    this.res = res;
    this.controller = new AbortController();
    let head = `retry: ${this.limits.retryMs}\n\n`;
    if (reset !== undefined) {
      head += `id: ${this.id}-${++this.seq}\nevent: reset\ndata: ${JSON.stringify({ reason: reset })}\n\n`;
      this.frames.length = 0;
      this.bufferedBytes = 0;
      this.lostUpTo = this.seq;
    } else if (replayAfter !== undefined) {
      for (const f of this.frames) if (f.seq > replayAfter) head += f.text;
    }
    res.on('close', () => this.detach(res, false));
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), this.limits.heartbeatMs);
    this.heartbeat.unref();
    this.write(head);
  }

  /** End the stream when its token expires. */
  expireAt(expiresAtMs: number): void {
    clearTimeout(this.expiryTimer);
    if (!Number.isFinite(expiresAtMs)) return;
    const wait = expiresAtMs - Date.now();
    if (wait <= 0) {
      this.end('ERR_AUTH_EXPIRED', 'The token has expired');
      return;
    }
    this.expiryTimer = setTimeout(() => this.expireAt(expiresAtMs), Math.min(wait, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  /** End for good with a reason the client sees as `event: close` `{ code, message }`. */
  end(code: string, message: string): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.expiryTimer);
    clearTimeout(this.resumeTimer);
    const res = this.res;
    if (res) {
      res.write(`event: close\ndata: ${JSON.stringify({ code, message })}\n\n`);
      res.end();
      this.detach(res, true);
    }
    this.frames.length = 0;
    this.bufferedBytes = 0;
    this.host.dispose(this, true);
  }

  private write(text: string): void {
    const res = this.res;
    if (!res) return;
    res.write(text);
    if (res.writableLength > this.limits.maxBufferedBytes) {
      // The reader is not keeping up: drop its connection rather than buffer without bound. It may reconnect.
      this.host.log.warn(
        { streamId: this.id, route: this.route, buffered: res.writableLength },
        'stream: reader too slow; connection dropped',
      );
      this.detach(res, true);
      res.destroy();
    }
  }

  /** The connection is gone: keep the stream (groups, buffer) for `resumeMs`, then forget it. */
  private detach(res: ServerResponse, quiet: boolean): void {
    if (this.res !== res) return;
    this.res = undefined;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.controller.abort(quiet ? 'dropped' : 'closed');
    if (this.finished) return;
    if (this.limits.resumeMs === 0) {
      this.finished = true;
      this.host.dispose(this, false);
      return;
    }
    this.resumeTimer = setTimeout(() => {
      if (this.res || this.finished) return;
      this.finished = true;
      clearTimeout(this.expiryTimer);
      this.frames.length = 0;
      this.host.dispose(this, false);
    }, this.limits.resumeMs);
    this.resumeTimer.unref();
  }
}
