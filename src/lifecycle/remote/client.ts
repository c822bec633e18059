import type { RawData, WebSocket } from 'ws';
import { loadNow } from '../../load.js';
import { backoffDelay, type ResolvedBackoff } from '../../backoff.js';
import type { Logger } from '../../logger.js';
import { parseFrame, parseStatusFields, type HeartbeatFrame, type StatusFields } from './frames.js';
import { gatehouseVersion } from '../../version.js';
import { userAgent, type ResolvedRemoteOptions } from './options.js';
import { PeerLog, peerText } from './peer-log.js';
import { REDACTED, redactToken, redactUrl, redactUrlsIn } from './redact.js';
import { updateFromCatalogue, type RemoteUpdateInfo } from './version-check.js';

/** Close codes after which a client never reconnects: 4001 invalid token, 4002 token revoked. */
export const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set([4001, 4002]);

/** What the protocol client reports to its owner ({@link RemoteControl}). */
export interface ProtocolHandlers {
  /** The socket is open. */
  opened(): void;
  /** The socket closed or failed to open; `opened` tells which. Not called after a terminal close or `close()`. */
  lost(info: { code: number; reason: string; opened: boolean; failures: number }): void;
  /** A status frame or a successful poll answer. */
  status(fields: StatusFields, via: 'socket' | 'poll'): void;
  /** A `revoked` frame or close code 4001/4002: the client has stopped for good. */
  terminated(reason: string, code: number | undefined): void;
  /** An `error` frame from the server. */
  serverError(code: string, message: string): void;
  /** A poll failed (network, timeout, an unexpected status); `rejected` when the server refused the token (401/403/404). */
  pollFailed(reason: string, rejected: boolean): void;
  /** Polling started or stopped. */
  polling(active: boolean): void;
  /** The catalogue lists a newer version. */
  updateAvailable(info: RemoteUpdateInfo): void;
}

/**
 * The PXControl protocol client on `ws`: `/ws/{token}` with full-jitter reconnects (the one backoff), heartbeats,
 * the HTTP poll fallback after `pollFallbackAfterFailures` consecutive socket failures (stopped once the socket
 * is back), the boot-time version check, `revoked` frames and close codes 4001/4002. It holds no lifecycle state:
 * it reports to its {@link ProtocolHandlers}. The token appears only in the URLs it dials, never in a log line.
 */
export class PxControlClient {
  private readonly o: ResolvedRemoteOptions;
  private readonly h: ProtocolHandlers;
  private readonly log: Logger;
  /** Lines a peer causes (frames, closes, errors): rate-limited, peer text capped and cleaned. */
  private readonly peer: PeerLog;
  private readonly backoff: ResolvedBackoff;
  private readonly socketUrl: string;
  private readonly pollUrl: string;
  private readonly headers: Record<string, string>;
  private ws: WebSocket | undefined;
  private open = false;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private pollActive = false;
  /** The poll request in flight, aborted when polling stops (its answer would be ignored anyway). */
  private pollAbort: AbortController | undefined;
  private pollRejected = false;
  private readonly inflight = new Set<AbortController>();
  private stopped = false;
  private started = false;
  private socketClosed: Promise<void> = Promise.resolve();

  /**
   * @param options - the resolved remote options
   * @param handlers - where events go
   * @param log - the remote control's logger
   * @param peer - the rate limiter of peer-caused lines (shared with the owner); one of its own by default
   */
  constructor(options: ResolvedRemoteOptions, handlers: ProtocolHandlers, log: Logger, peer?: PeerLog) {
    this.o = options;
    this.h = handlers;
    this.log = log;
    this.peer = peer ?? new PeerLog(log);
    this.backoff = {
      type: 'exponential',
      delayMs: options.reconnectDelayMs,
      maxDelayMs: options.maxReconnectDelayMs,
      jitter: 'full',
    };
    const token = encodeURIComponent(options.token);
    this.socketUrl = `${options.wsUrl}/ws/${token}`;
    this.pollUrl = `${options.apiUrl}/api/v1/status/${token}`;
    this.headers = { 'User-Agent': userAgent() };
  }

  /** The socket URL with the token (and any user:password in the URL) redacted, for logs. */
  get safeSocketUrl(): string {
    return `${redactUrl(this.o.wsUrl)}/ws/${REDACTED}`;
  }

  /** Whether the socket is open. */
  get connected(): boolean {
    return this.open;
  }

  /** Whether the poll fallback is running. */
  get polling(): boolean {
    return this.pollActive;
  }

  /** Open the socket and run the version check (once). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    if (!this.o.disableVersionCheck) void this.checkVersion();
    this.connect();
  }

  /** Stop for good: no reconnect, no poll, no heartbeat; the socket is closed. Resolves once it is. Safe to call twice. */
  close(): Promise<void> {
    if (this.halt()) this.closeSocket(1000, 'client closing');
    this.peer.close();
    return this.socketClosed;
  }

  /** Mark the client stopped and cancel every timer, poll and request; false when it already was. */
  private halt(): boolean {
    if (this.stopped) return false;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.stopHeartbeat();
    this.stopPolling(false);
    for (const c of this.inflight) c.abort();
    this.inflight.clear();
    return true;
  }

  // ---- the socket ----------------------------------------------------------------------------------------

  private connect(): void {
    if (this.stopped) return;
    this.reconnectTimer = undefined;
    this.trace({ url: this.safeSocketUrl, failures: this.failures }, 'remote control: connecting');
    let ws: WebSocket;
    try {
      const { WebSocket: Socket } = loadNow<{ WebSocket: typeof WebSocket }>('ws');
      ws = new Socket(this.socketUrl, {
        headers: this.headers,
        handshakeTimeout: this.o.connectTimeoutMs,
        // A frame bigger than this closes the socket (memory guard); frames above maxFrameBytes are read and ignored.
        maxPayload: Math.max(this.o.maxFrameBytes * 4, 1024 * 1024),
        perMessageDeflate: false,
        followRedirects: false,
      });
    } catch (err) {
      this.onLost(1006, `cannot dial: ${this.redact(err)}`, false);
      return;
    }
    this.ws = ws;
    let opened = false;
    let resolveClosed!: () => void;
    this.socketClosed = new Promise<void>((resolve) => (resolveClosed = resolve));
    ws.on('open', () => {
      if (this.stopped) return;
      opened = true;
      this.open = true;
      this.failures = 0;
      this.pollRejected = false;
      this.log.info({ url: this.safeSocketUrl }, 'remote control: connected');
      this.h.opened();
      this.stopPolling(true);
      this.startHeartbeat(ws);
    });
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('error', (err) => {
      this.trace({ url: this.safeSocketUrl, reason: this.redact(err) }, 'remote control: socket error');
    });
    ws.on('close', (code, reasonBuf) => {
      resolveClosed();
      if (this.ws === ws) this.ws = undefined;
      this.open = false;
      this.stopHeartbeat();
      if (this.stopped) return;
      const reason = reasonBuf.toString('utf8').slice(0, 200);
      if (TERMINAL_CLOSE_CODES.has(code)) {
        this.log.warn(
          { url: this.safeSocketUrl, code, reason: peerText(reason) },
          `remote control: closed with ${code} (${code === 4001 ? 'invalid token' : 'token revoked'}); not reconnecting`,
        );
        this.terminate(reason || (code === 4001 ? 'invalid token' : 'token revoked'), code);
        return;
      }
      this.onLost(code, reason, opened);
    });
  }

  private onLost(code: number, reason: string, opened: boolean): void {
    this.failures++;
    const level = opened ? 'warn' : 'debug';
    this.peer.line(
      opened ? 'socket-lost' : 'cannot-connect',
      this.o.debug ? 'info' : level,
      { url: this.safeSocketUrl, code, reason: peerText(reason), failures: this.failures },
      opened ? 'remote control: socket lost' : 'remote control: cannot connect',
    );
    this.h.lost({ code, reason, opened, failures: this.failures });
    if (this.stopped) return;
    if (this.failures >= this.o.pollFallbackAfterFailures) this.startPolling();
    const delay = backoffDelay(this.backoff, this.failures);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.stopped) return;
    const size = Array.isArray(data)
      ? data.reduce((n, b) => n + b.length, 0)
      : data instanceof ArrayBuffer
        ? data.byteLength
        : data.length;
    if (isBinary) return this.ignored('binary frame');
    if (size > this.o.maxFrameBytes)
      return this.ignored(`frame of ${size} bytes is over maxFrameBytes (${this.o.maxFrameBytes})`);
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data as ArrayBuffer).toString('utf8');
    const frame = parseFrame(text);
    switch (frame.type) {
      case 'status':
        this.peer.line(
          'status-frame',
          this.o.debug ? 'info' : 'debug',
          { status: frame.fields.gatehouseStatus ?? frame.fields.status },
          'remote control: status frame',
        );
        this.h.status(frame.fields, 'socket');
        return;
      case 'revoked':
        this.log.warn(
          { reason: peerText(frame.reason) },
          'remote control: token revoked; going OFFLINE, not reconnecting',
        );
        this.closeSocket(1000, 'revoked');
        this.terminate(frame.reason, undefined);
        return;
      case 'error':
        this.peer.line(
          'server-error',
          'warn',
          { code: peerText(frame.code, 64), message: peerText(frame.message) },
          'remote control: the server reported an error',
        );
        this.h.serverError(frame.code, frame.message);
        return;
      default:
        this.ignored(frame.why);
    }
  }

  private ignored(why: string): void {
    this.peer.line('ignored-frame', 'warn', { why: peerText(why) }, 'remote control: ignored a frame');
  }

  private terminate(reason: string, code: number | undefined): void {
    if (this.halt()) this.h.terminated(reason, code);
  }

  private closeSocket(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    if (ws.readyState === ws.CONNECTING) {
      ws.terminate();
      return;
    }
    if (ws.readyState === ws.OPEN) ws.close(code, reason);
    // A peer that never answers the close handshake must not hold the process open.
    const force = setTimeout(() => ws.terminate(), 1000);
    force.unref();
    ws.once('close', () => clearTimeout(force));
  }

  // ---- heartbeats ----------------------------------------------------------------------------------------

  private startHeartbeat(ws: WebSocket): void {
    this.stopHeartbeat();
    const beat = (): void => {
      if (ws.readyState !== ws.OPEN) return;
      const frame: HeartbeatFrame = {
        type: 'heartbeat',
        sdk_version: gatehouseVersion(),
        language: 'node',
        env: this.o.environment,
        timestamp: Date.now(),
      };
      ws.send(JSON.stringify(frame), (err) => {
        if (err) this.trace({ reason: this.redact(err) }, 'remote control: heartbeat not sent');
      });
    };
    // One at once, so the dashboard lists the instance as soon as it connects, then one per interval.
    beat();
    this.heartbeatTimer = setInterval(beat, this.o.heartbeatIntervalMs);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  // ---- the poll fallback ---------------------------------------------------------------------------------

  private startPolling(): void {
    if (this.pollActive || this.pollRejected || this.o.disablePollFallback || this.stopped) return;
    this.pollActive = true;
    this.log.warn(
      { failures: this.failures, everyMs: this.o.pollIntervalMs },
      'remote control: socket keeps failing; polling the status',
    );
    this.h.polling(true);
    void this.pollLoop();
  }

  private stopPolling(report: boolean): void {
    if (!this.pollActive) return;
    this.pollActive = false;
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.pollAbort?.abort(new Error('polling stopped'));
    this.pollAbort = undefined;
    if (report) {
      this.log.info('remote control: socket is back; polling stopped');
      this.h.polling(false);
    }
  }

  private async pollLoop(): Promise<void> {
    if (!this.pollActive || this.stopped) return;
    await this.pollOnce();
    if (!this.pollActive || this.stopped) return;
    this.pollTimer = setTimeout(() => void this.pollLoop(), this.o.pollIntervalMs);
  }

  private async pollOnce(): Promise<void> {
    const timeoutMs = Math.max(1000, Math.min(10_000, this.o.pollIntervalMs));
    const controller = new AbortController();
    this.pollAbort = controller;
    const result = await this.getJson(this.pollUrl, timeoutMs, controller);
    if (this.pollAbort === controller) this.pollAbort = undefined;
    if (!this.pollActive || this.stopped) return;
    if (result.kind === 'failed') {
      const rejected = result.status === 401 || result.status === 403 || result.status === 404;
      this.log[this.o.debug ? 'info' : 'debug'](
        { reason: result.reason, status: result.status },
        'remote control: poll failed',
      );
      if (rejected) {
        this.log.warn(
          { status: result.status },
          'remote control: the server refused the token on the poll; polling stopped',
        );
        this.pollRejected = true;
        this.stopPolling(true);
      }
      this.h.pollFailed(result.reason, rejected);
      return;
    }
    const v = result.value;
    const fields =
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? parseStatusFields(v as Record<string, unknown>)
        : undefined;
    if (!fields) {
      this.ignored('poll answer is not a status object with a known status');
      return;
    }
    this.trace({ status: fields.gatehouseStatus ?? fields.status }, 'remote control: poll answer');
    this.h.status(fields, 'poll');
  }

  // ---- the version check ---------------------------------------------------------------------------------

  private async checkVersion(): Promise<void> {
    const result = await this.getJson(`${this.o.apiUrl}/api/v1/sdk/versions`, 5000);
    if (this.stopped) return;
    if (result.kind === 'failed') {
      this.log.debug({ reason: result.reason }, 'remote control: version check failed');
      return;
    }
    const info = updateFromCatalogue(result.value, this.log);
    if (info) this.h.updateAvailable(info);
  }

  // ---- helpers -------------------------------------------------------------------------------------------

  private async getJson(
    url: string,
    timeoutMs: number,
    controller = new AbortController(),
  ): Promise<{ kind: 'ok'; value: unknown } | { kind: 'failed'; reason: string; status?: number }> {
    this.inflight.add(controller);
    const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    try {
      const res = await fetch(url, {
        headers: { ...this.headers, accept: 'application/json' },
        signal: controller.signal,
        redirect: 'error',
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        return { kind: 'failed', reason: `HTTP ${res.status}`, status: res.status };
      }
      const text = await readCapped(res, this.o.maxFrameBytes);
      if (text === undefined) return { kind: 'failed', reason: `answer over maxFrameBytes (${this.o.maxFrameBytes})` };
      try {
        return { kind: 'ok', value: JSON.parse(text) as unknown };
      } catch {
        return { kind: 'ok', value: undefined };
      }
    } catch (err) {
      return { kind: 'failed', reason: this.redact(err) };
    } finally {
      clearTimeout(timer);
      this.inflight.delete(controller);
    }
  }

  /** An error's message (and its cause's) with the token taken out. */
  private redact(err: unknown): string {
    const e = err as { message?: unknown; cause?: { message?: unknown; code?: unknown } } | undefined;
    let text = String(e?.message ?? err);
    if (e?.cause && typeof e.cause === 'object') text += ` (${String(e.cause.code ?? e.cause.message ?? '')})`;
    return redactUrlsIn(redactToken(text, this.o.token), [this.o.wsUrl, this.o.apiUrl]);
  }

  private trace(fields: Record<string, unknown>, msg: string): void {
    this.log[this.o.debug ? 'info' : 'debug'](fields, msg);
  }
}

async function readCapped(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > max) {
      await res.body.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}
