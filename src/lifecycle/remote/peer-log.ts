import type { Logger } from '../../logger.js';
import { isControl } from '../../sdk-catalogue.js';

/** How many lines of one kind a remote peer may cause per window, and the window. */
export interface PeerLogLimits {
  /** Lines of one kind logged per window; the rest are counted. @defaultValue 5 */
  lines: number;
  /** The window, in ms. @defaultValue 10000 */
  windowMs: number;
}

/** Defaults of {@link PeerLogLimits}. */
export const PEER_LOG_LIMITS: PeerLogLimits = Object.freeze({ lines: 5, windowMs: 10_000 });

/** The levels a {@link PeerLog} line takes. */
export type PeerLogLevel = 'error' | 'warn' | 'info' | 'debug';

/** Longest text taken from a peer into a log line, in characters. */
export const MAX_PEER_TEXT = 200;

/**
 * Text a remote peer sent, fit for a log line: control characters (CR, LF, ESC, ...) shown as `\uXXXX`, cut at
 * {@link MAX_PEER_TEXT} characters with a note of the full length.
 */
export function peerText(value: unknown, max: number = MAX_PEER_TEXT): string {
  const s = typeof value === 'string' ? value : String(value);
  const cut = s.length > max ? s.slice(0, max) : s;
  let clean = '';
  for (let i = 0; i < cut.length; i++) {
    const code = cut.charCodeAt(i);
    clean += isControl(code) ? `\\u${code.toString(16).padStart(4, '0')}` : cut[i];
  }
  return s.length > max ? `${clean}… (${s.length} characters)` : clean;
}

interface Kind {
  windowStart: number;
  logged: number;
  suppressed: number;
  level: PeerLogLevel;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Log lines a remote peer causes (frames it sends, states it flips), at most `lines` per kind per window; the
 * rest are counted and reported in one line when the window ends. A hostile server cannot flood the log.
 */
export class PeerLog {
  private readonly kinds = new Map<string, Kind>();
  private closed = false;

  /**
   * @param log - where the lines go
   * @param limits - lines per kind per window
   * @param prefix - start of the summary line (`remote control`, `lifecycle`)
   */
  constructor(
    private readonly log: Logger,
    private readonly limits: PeerLogLimits = PEER_LOG_LIMITS,
    private readonly prefix = 'remote control',
  ) {}

  /** Log a line of `kind` unless that kind is over its budget for this window. */
  line(kind: string, level: PeerLogLevel, fields: Record<string, unknown>, msg: string): void {
    if (this.closed) return;
    const now = Date.now();
    let k = this.kinds.get(kind);
    if (!k) this.kinds.set(kind, (k = { windowStart: now, logged: 0, suppressed: 0, level, timer: undefined }));
    if (now - k.windowStart >= this.limits.windowMs && k.timer === undefined) {
      k.windowStart = now;
      k.logged = 0;
    }
    if (k.logged < this.limits.lines) {
      k.logged++;
      this.log[level](fields, msg);
      return;
    }
    k.suppressed++;
    k.timer ??= this.flushLater(kind, k);
  }

  /** Stop logging and cancel the pending summaries (they are written now). */
  close(): void {
    if (this.closed) return;
    for (const [kind, k] of this.kinds) {
      if (k.timer === undefined) continue;
      clearTimeout(k.timer);
      this.summary(kind, k);
    }
    this.closed = true;
  }

  private flushLater(kind: string, k: Kind): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        this.summary(kind, k);
        k.windowStart = Date.now();
        k.logged = 0;
      },
      Math.max(0, k.windowStart + this.limits.windowMs - Date.now()),
    );
    timer.unref();
    return timer;
  }

  private summary(kind: string, k: Kind): void {
    k.timer = undefined;
    if (k.suppressed === 0) return;
    this.log[k.level](
      { kind, suppressed: k.suppressed, windowMs: this.limits.windowMs },
      `${this.prefix}: ${k.suppressed} more lines of kind "${kind}" not logged (at most ${this.limits.lines} per ${this.limits.windowMs} ms)`,
    );
    k.suppressed = 0;
  }
}
