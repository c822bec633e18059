import { defaultLogger, type Logger } from '../../logger.js';
import type { LifecycleRecord, LifecycleState } from '../states.js';
import type { PxControlClient as ProtocolClient } from './client.js';
import { computeEffective, mergeKnown, sameKnown, type EffectiveState } from './effective-state.js';
import type { Listener, RemoteControlEvent, RemoteControlEvents, RemoteStatusListener } from './events.js';
import type { StatusFields } from './frames.js';
import {
  resolveRemoteOptions,
  type FailMode,
  type RemoteControlOptions,
  type ResolvedRemoteOptions,
} from './options.js';
import { StateFile, type KnownState } from './state-file.js';
import { PeerLog } from './peer-log.js';
import { redactUrl } from './redact.js';

/**
 * One project's remote control over the PXControl protocol: the state the control plane sets (ACTIVE, PAUSED,
 * OFFLINE, FAILED, and MAINTENANCE from a gatehouse control plane), followed live over a socket with the poll
 * fallback, the project's fail mode applied, and the last known state kept in `dataDir`.
 *
 * The effective state:
 * - while in contact (the socket delivered a status, or the last poll succeeded): the control plane's state;
 * - without contact, fail mode `open`: the last known state (ACTIVE when nothing was ever known);
 * - without contact, fail mode `closed` (the default until the server says otherwise): OFFLINE. A restart with a
 *   persisted state starts from it until the first connection attempt fails; with nothing known, OFFLINE until
 *   the first contact;
 * - the first connection attempt has its chance before anything is logged as a warning: until it has settled
 *   (a status heard, or the attempt failed), the state is OFFLINE ("starting: waiting for its remote control")
 *   in closed mode, logged at info; a first attempt that fails logs one warning; the first contact is logged at
 *   info; every later change of state at warn (at most 5 lines per 10 s, the rest counted);
 * - after `revoked` or close code 4001/4002: OFFLINE for good (no reconnect).
 *
 * It connects on construction and keeps the process alive like any open connection until {@link close}.
 *
 * @example
 * ```ts
 * const px = RemoteControl.shared();            // PX_TOKEN, PX_WS_URL, ... from the environment
 * px.onStatus((next, prev) => log.info({ next, prev }, 'remote state'));
 * if (px.isActive()) await doWork(); else log.warn(px.pauseMessage);
 * await px.close();
 * ```
 */
export class RemoteControl {
  /**
   * Process-wide on purpose: `shared()` is pxcontrol's `get_client()`, one client per process built from the
   * `PX_*` environment (the contract). Portals and RemoteControls built with options never touch it.
   */
  private static sharedInstance: RemoteControl | undefined;

  /**
   * The process-wide client (pxcontrol's `get_client()`): created on first use from `options` over the `PX_*`
   * environment, then the same instance for every caller until it is closed. `options` only count on the call
   * that creates it.
   */
  static shared(options: RemoteControlOptions = {}): RemoteControl {
    const existing = RemoteControl.sharedInstance;
    if (existing && !existing.closed) return existing;
    const created = new RemoteControl(options);
    RemoteControl.sharedInstance = created;
    return created;
  }

  /** Close the process-wide client, if any (pxcontrol's `reset_client()`); the next `shared()` makes a new one. */
  static async resetShared(): Promise<void> {
    const existing = RemoteControl.sharedInstance;
    RemoteControl.sharedInstance = undefined;
    await existing?.close();
  }

  /** The resolved options, with the token shown as `'[redacted]'` (safe to log). */
  readonly options: Readonly<ResolvedRemoteOptions>;
  private readonly log: Logger;
  /** Lines a remote peer causes (state flips, frames): rate-limited. */
  private readonly peerLog: PeerLog;
  /** Until the first connection attempt has settled (a status heard, or the attempt failed). */
  private firstAttempt = true;
  /** The protocol client, once loaded (it loads `ws`): see {@link connect}. */
  private client: ProtocolClient | undefined;
  private readonly starting: Promise<void>;
  private readonly file: StateFile | undefined;
  private readonly listeners: { [E in RemoteControlEvent]?: Set<Listener<E>> } = {};
  private readonly recordListeners = new Set<() => void>();
  private readyWaiters = new Set<() => void>();
  private known: KnownState | undefined;
  private socketLive = false;
  private pollLive = false;
  private rejected = false;
  private bootGrace: boolean;
  private revokedReason: string | undefined;
  private effective: {
    state: LifecycleState;
    message: string | undefined;
    retryAfterSec: number | undefined;
    since: number;
  };
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: RemoteControlOptions = {}) {
    const resolved = resolveRemoteOptions(options);
    this.options = Object.freeze({
      ...resolved,
      token: '[redacted]',
      wsUrl: redactUrl(resolved.wsUrl),
      apiUrl: redactUrl(resolved.apiUrl),
    });
    this.log = (options.logger ?? defaultLogger()).child({ component: 'remote-control' });
    this.peerLog = new PeerLog(this.log);
    this.file = resolved.dataDir === false ? undefined : new StateFile(resolved.dataDir, resolved.token, this.log);
    this.known = this.file?.load();
    // A persisted state in closed mode holds until the first connection attempt fails: a restart does not flicker
    // through OFFLINE while the socket connects.
    this.bootGrace = this.known !== undefined;
    this.effective = { ...this.compute(), since: this.known?.heardAt || Date.now() };
    this.starting = this.connect(resolved);
  }

  /**
   * Load the protocol client (and with it `ws`) and connect: a RemoteControl is the code that needs them, so they
   * load here, not when gatehouse is imported. Node keeps the module, so only the first RemoteControl waits for it.
   */
  private async connect(resolved: ResolvedRemoteOptions): Promise<void> {
    let Client: typeof ProtocolClient;
    try {
      ({ PxControlClient: Client } = await import('./client.js'));
    } catch (err) {
      this.log.error({ err }, 'remote control: cannot load the protocol client');
      return;
    }
    if (this.closed) return;
    const client = new Client(
      resolved,
      {
        opened: () => this.emit('connected'),
        lost: (info) => this.onLost(info),
        status: (fields, via) => this.onStatusFields(fields, via),
        terminated: (reason, code) => this.onTerminated(reason, code),
        serverError: (code, message) => this.emit('serverError', { code, message }),
        pollFailed: (_reason, rejected) => this.onPollFailed(rejected),
        polling: (active) => this.emit(active ? 'poll-started' : 'poll-stopped'),
        updateAvailable: (info) => this.emit('update-available', info),
      },
      this.log,
      this.peerLog,
    );
    this.log.debug(
      {
        url: client.safeSocketUrl,
        state: this.effective.state,
        known: this.known?.status,
        file: this.file?.location,
      },
      'remote control: starting',
    );
    this.client = client;
    client.start();
  }

  /** The effective state (see the class doc). */
  get status(): LifecycleState {
    return this.effective.state;
  }

  /** Whether the effective state is ACTIVE: work may go ahead. */
  isActive(): boolean {
    return this.effective.state === 'ACTIVE';
  }

  /** The project's pause message, when the control plane set one. */
  get pauseMessage(): string | undefined {
    return this.known?.pauseMessage;
  }

  /** The project's offline message, when the control plane set one. */
  get offlineMessage(): string | undefined {
    return this.known?.offlineMessage;
  }

  /** The project's maintenance message, when a gatehouse control plane set one. */
  get maintenanceMessage(): string | undefined {
    return this.known?.maintenanceMessage;
  }

  /** The message clients get in the effective state (`undefined` while ACTIVE or when the project set none). */
  get message(): string | undefined {
    return this.effective.message;
  }

  /** `Retry-After` seconds of the effective state, when the control plane set them. */
  get retryAfterSec(): number | undefined {
    return this.effective.retryAfterSec;
  }

  /** The project's fail mode: as last heard, else `'closed'`. */
  get failMode(): FailMode {
    return this.known?.failMode ?? 'closed';
  }

  /** Whether the socket is open. */
  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Whether the HTTP poll fallback is running. */
  get polling(): boolean {
    return this.client?.polling ?? false;
  }

  /** Whether the state currently comes from live contact (a socket status or a successful poll). */
  get inContact(): boolean {
    return this.socketLive || this.pollLive;
  }

  /** The revocation reason, once the token was revoked (then the client has stopped for good). */
  get revoked(): string | undefined {
    return this.revokedReason;
  }

  /** The effective state as a lifecycle record (`null` means ACTIVE with nothing set), for the lifecycle source. */
  get record(): LifecycleRecord | null {
    const e = this.effective;
    if (e.state === 'ACTIVE' && e.retryAfterSec === undefined) return null;
    return {
      state: e.state,
      message: e.message,
      retryAfterSec: e.retryAfterSec,
      updatedAt: e.since,
      updatedBy: 'remote control',
    };
  }

  /**
   * The connection as a `/status` check (the portal adds it as `remote`, never critical): OK while a socket
   * delivers the state; YELLOW while only polls do, or while out of contact in open mode (serving on the last
   * known state); RED when out of contact in closed mode, or after revocation.
   */
  health(): { state: 'OK' | 'YELLOW' | 'RED'; detail: string } {
    if (this.revokedReason !== undefined)
      return { state: 'RED', detail: `token revoked (${this.revokedReason}); not reconnecting` };
    if (this.rejected) return { state: 'RED', detail: 'the server refused the token on the poll' };
    if (this.socketLive)
      return { state: 'OK', detail: `connected; ${this.effective.state}, fail mode ${this.failMode}` };
    if (this.pollLive)
      return {
        state: 'YELLOW',
        detail: `socket down, polling every ${this.options.pollIntervalMs} ms; ${this.effective.state}`,
      };
    if (this.failMode === 'open')
      return {
        state: 'YELLOW',
        detail: `no contact; fail mode open, serving on the last known state ${this.effective.state}`,
      };
    return { state: 'RED', detail: `no contact; fail mode closed, gating as ${this.effective.state}` };
  }

  /** Listen for effective state changes; returns an unsubscribe function. */
  onStatus(listener: RemoteStatusListener): () => void {
    return this.on('status', listener);
  }

  /**
   * Same as {@link onStatus}, in the lifecycle's shape, so a `RemoteControl` can drive anything that follows a
   * lifecycle, e.g. `new TaskBuffer({ lifecycle: RemoteControl.shared(), ... })` in a worker.
   */
  onChange(listener: RemoteStatusListener): () => void {
    return this.on('status', listener);
  }

  /** Listen for any change of {@link record} (state, message or Retry-After); returns an unsubscribe function. */
  onRecordChange(listener: () => void): () => void {
    this.recordListeners.add(listener);
    return () => this.recordListeners.delete(listener);
  }

  /** Add an event listener; returns an unsubscribe function. */
  on<E extends RemoteControlEvent>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners[event] as Set<Listener<E>> | undefined;
    if (!set) {
      set = new Set();
      (this.listeners as Record<string, Set<Listener<E>>>)[event] = set;
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Remove an event listener. */
  off<E extends RemoteControlEvent>(event: E, listener: Listener<E>): void {
    (this.listeners[event] as Set<Listener<E>> | undefined)?.delete(listener);
  }

  /**
   * Resolves `true` once the control plane has been heard (a status by socket or poll) or the token was revoked,
   * `false` after `timeoutMs` without either.
   */
  whenReady(timeoutMs = 10_000): Promise<boolean> {
    if (this.inContact || this.revokedReason !== undefined) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.readyWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.readyWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.readyWaiters.add(done);
    });
  }

  /** Close the socket, cancel every timer and poll, and wait for the persisted state to be written. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (RemoteControl.sharedInstance === this) RemoteControl.sharedInstance = undefined;
      await this.starting;
      await this.client?.close();
      await this.file?.flush();
      for (const w of [...this.readyWaiters]) w();
      this.readyWaiters.clear();
      this.recordListeners.clear();
      for (const key of Object.keys(this.listeners)) delete (this.listeners as Record<string, unknown>)[key];
      this.peerLog.close();
      this.log.debug('remote control: closed');
    })();
    return this.closing;
  }

  // ---- internals -----------------------------------------------------------------------------------------

  private onStatusFields(fields: StatusFields, via: 'socket' | 'poll'): void {
    if (this.closed) return;
    const prev = this.known;
    const status = fields.status ?? prev?.status;
    if (status === undefined) {
      this.log.warn('remote control: ignored a status without a status while nothing is known');
      return;
    }
    const next = mergeKnown(prev, fields, status);
    this.known = next;
    if (via === 'socket') {
      this.socketLive = true;
      this.pollLive = false; // the socket supersedes the poll: a later drop must count as lost contact
    } else {
      this.pollLive = true;
    }
    this.rejected = false;
    this.bootGrace = false;
    const first = this.firstAttempt;
    this.firstAttempt = false;
    if (!prev || !sameKnown(prev, next)) this.file?.save(next);
    this.recompute(first ? 'first-contact' : undefined);
    for (const w of [...this.readyWaiters]) w();
  }

  private onLost(info: { code: number; reason: string; opened: boolean }): void {
    if (this.closed) return;
    this.socketLive = false;
    this.bootGrace = false;
    if (this.firstAttempt) {
      this.firstAttempt = false;
      this.log.warn(
        { url: this.client?.safeSocketUrl, code: info.code, failMode: this.failMode },
        this.failMode === 'closed'
          ? 'remote control: the first connection attempt failed; OFFLINE (fail mode closed) until the control plane answers'
          : `remote control: the first connection attempt failed; serving on the last known state (fail mode open)`,
      );
    }
    // Poll contact counts only while polling runs (it stops when a socket opens and may not restart at once).
    if (!this.client?.polling) this.pollLive = false;
    if (info.opened) this.emit('disconnected', { code: info.code, reason: info.reason });
    else if (this.listeners.error?.size)
      this.emit('error', new Error(`remote control: cannot connect (${info.reason || `code ${info.code}`})`));
    this.recompute();
  }

  private onPollFailed(rejected: boolean): void {
    if (this.closed) return;
    this.pollLive = false;
    if (rejected) this.rejected = true;
    this.recompute();
  }

  private onTerminated(reason: string, code: number | undefined): void {
    if (this.closed) return;
    const wasConnected = this.socketLive;
    this.revokedReason = reason;
    this.socketLive = false;
    this.pollLive = false;
    this.bootGrace = false;
    if (wasConnected || code !== undefined) this.emit('disconnected', { code: code ?? 1000, reason });
    this.recompute();
    this.emit('revoked', reason);
    for (const w of [...this.readyWaiters]) w();
  }

  private compute(): EffectiveState {
    return computeEffective({
      known: this.known,
      refused: this.revokedReason !== undefined || this.rejected,
      contact: this.socketLive || this.pollLive,
      bootGrace: this.bootGrace,
      firstAttempt: this.firstAttempt,
    });
  }

  /** @param why - `first-contact` when the first status of this process arrives (logged at info) */
  private recompute(why?: 'first-contact'): void {
    const prev = this.effective;
    const next = this.compute();
    if (prev.state === next.state && prev.message === next.message && prev.retryAfterSec === next.retryAfterSec) return;
    this.effective = { ...next, since: prev.state === next.state ? prev.since : Date.now() };
    if (prev.state !== next.state) {
      const fields = { from: prev.state, to: next.state, inContact: this.inContact, failMode: this.failMode };
      const msg = `remote control: ${prev.state} -> ${next.state}`;
      // Where the state starts is no warning; later changes are, at most 5 per 10 s (a peer may flip it at will).
      if (why === 'first-contact') this.log.info(fields, `${msg} (first contact)`);
      else this.peerLog.line('state', 'warn', fields, msg);
    }
    for (const l of this.recordListeners) {
      try {
        l();
      } catch (err) {
        this.log.error({ err }, 'remote control: a record listener failed');
      }
    }
    if (prev.state !== next.state) this.emit('status', next.state, prev.state);
  }

  private emit<E extends RemoteControlEvent>(event: E, ...args: RemoteControlEvents[E]): void {
    const set = this.listeners[event] as Set<Listener<E>> | undefined;
    if (!set) return;
    for (const l of [...set]) {
      try {
        l(...args);
      } catch (err) {
        this.log.error({ err, event }, 'remote control: a listener failed');
      }
    }
  }
}
