import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import { lifecycleChecks, type ServiceUnavailableCode, type ServiceUnavailableError } from './errors.js';
import { LIFECYCLE_CODES, type InactiveState } from './states.js';

/** What a `lifecycle.respond` hook learns about the gated request. */
export interface GatedRequestContext {
  /** Node's request. */
  readonly req: IncomingMessage;
  /** Node's response: write it yourself, or return a {@link GatedAnswer}. The request id, security headers and `Retry-After` are already on it. */
  readonly res: ServerResponse;
  /** The message clients get while the state lasts (the one set with the state, or the state's default). */
  readonly message: string;
  /** The `Retry-After` seconds of the state. */
  readonly retryAfterSec: number;
  /** The problem code, e.g. `SERVICE_MAINTENANCE`. */
  readonly code: ServiceUnavailableCode;
  /** The status the default answer uses (503, or the configured `lifecycle.statusCodes` entry). */
  readonly status: number;
  /** The request id (also sent as `X-Request-Id`). */
  readonly requestId: string;
  /** Whether the client's `Accept` header prefers `text/html` over JSON (see {@link prefersHtml}). */
  readonly prefersHtml: boolean;
}

/** Common fields of a {@link GatedAnswer}. */
interface GatedAnswerBase {
  /** Response status, 200-599. @defaultValue the gated status (503) */
  status?: number;
  /** Extra response headers. */
  headers?: Readonly<Record<string, string>>;
}

/** An answer a `lifecycle.respond` hook returns instead of writing `res` itself: a JSON body or an HTML page. */
export type GatedAnswer =
  (GatedAnswerBase & { json: unknown; html?: never }) | (GatedAnswerBase & { html: string; json?: never });

/**
 * Answers a lifecycle-gated request its own way: write `ctx.res`, or return a {@link GatedAnswer}; return nothing
 * (without writing) to keep the default answer. A hook that throws gets the default problem+json answer and an
 * error log line.
 */
export type LifecycleRespond = (
  state: InactiveState,
  ctx: GatedRequestContext,
) => GatedAnswer | undefined | void | Promise<GatedAnswer | undefined | void>;

const STATE_BY_CODE: ReadonlyMap<string, InactiveState> = new Map(
  Object.entries(LIFECYCLE_CODES).map(([state, code]) => [code, state as InactiveState]),
);

const TITLES: Readonly<Record<InactiveState, string>> = {
  PAUSED: 'Service paused',
  MAINTENANCE: 'Down for maintenance',
  OFFLINE: 'Service offline',
  FAILED: 'Service unavailable',
};

const HTML_TYPE = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** The q-value of the most specific range in `accept` matching `type/subtype` (0 when none matches). */
function quality(ranges: readonly MediaRange[], type: string, subtype: string): number {
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    const specificity =
      r.type === type && r.subtype === subtype
        ? 2
        : r.type === type && r.subtype === '*'
          ? 1
          : r.type === '*' && r.subtype === '*'
            ? 0
            : -1;
    if (specificity > best) {
      best = specificity;
      q = r.q;
    }
  }
  return q;
}

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(accept: string): MediaRange[] {
  const out: MediaRange[] = [];
  // Accept headers are short; a cap keeps an attacker-sized one from costing more than a glance.
  for (const part of accept.slice(0, 2048).split(',')) {
    const [range = '', ...params] = part.split(';');
    const slash = range.indexOf('/');
    if (slash <= 0) continue;
    const type = range.slice(0, slash).trim().toLowerCase();
    const subtype = range
      .slice(slash + 1)
      .trim()
      .toLowerCase();
    let q = 1;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq !== -1 && p.slice(0, eq).trim().toLowerCase() === 'q') {
        const n = Number(p.slice(eq + 1).trim());
        q = Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
      }
    }
    out.push({ type, subtype, q });
  }
  return out;
}

/**
 * Whether an `Accept` header prefers `text/html` to JSON: the q-value of `text/html` (from its most specific
 * matching range) must be above those of `application/json` and `application/problem+json`. A tie, `*\/*` alone
 * or no header at all keep JSON, so API clients always get problem+json.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = parseAccept(accept);
  const html = quality(ranges, 'text', 'html');
  if (html <= 0) return false;
  return html > quality(ranges, 'application', 'json') && html > quality(ranges, 'application', 'problem+json');
}

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

function retryHint(sec: number): string {
  if (sec <= 0) return 'Please try again later.';
  if (sec < 90) return `Please try again in ${sec} second${sec === 1 ? '' : 's'}.`;
  if (sec < 5400) return `Please try again in about ${Math.ceil(sec / 60)} minutes.`;
  return `Please try again in about ${Math.ceil(sec / 3600)} hours.`;
}

/**
 * The default HTML answer for browsers: a small self-contained page (no scripts, no external resources) with
 * a title for the state, the message and a retry hint, every value escaped.
 */
export function maintenancePage(
  state: InactiveState,
  message: string,
  retryAfterSec: number,
  requestId: string,
): string {
  const title = escapeHtml(TITLES[state]);
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<meta name="robots" content="noindex">\n<title>${title}</title>\n` +
    '<style>body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;font-family:system-ui,sans-serif;background:#f6f7f9;color:#1f2328}' +
    'main{max-width:34rem;padding:2rem;text-align:center}h1{font-size:1.6rem;margin:0 0 1rem}p{line-height:1.5;margin:.5rem 0}.small{color:#59636e;font-size:.85rem}</style>\n' +
    `</head>\n<body>\n<main>\n<h1>${title}</h1>\n<p>${escapeHtml(message)}</p>\n<p class="small">${escapeHtml(retryHint(retryAfterSec))}</p>\n` +
    `<p class="small">Request id: ${escapeHtml(requestId)}</p>\n</main>\n</body>\n</html>\n`
  );
}

/**
 * Answers lifecycle-gated requests other than with problem+json: through the application's `lifecycle.respond`
 * hook first, then with the HTML page for clients that prefer `text/html`. Whatever it does not answer, the
 * caller sends as problem+json.
 */
export class GatedResponder {
  private readonly log: Logger;

  constructor(
    private readonly respond: LifecycleRespond | undefined,
    log: Logger,
  ) {
    if (respond !== undefined) lifecycleChecks('Lifecycle').func('respond', respond);
    this.log = log.child({ component: 'lifecycle' });
  }

  /**
   * Answer a gated request. The standard headers and `Retry-After` must already be on `res`. Returns `false` at
   * once when neither the hook nor the HTML page applies; otherwise a promise (never rejecting) that resolves
   * `true` once the request was answered, or `false` when the caller should still send problem+json.
   */
  answer(
    req: IncomingMessage,
    res: ServerResponse,
    err: ServiceUnavailableError,
    requestId: string,
  ): false | Promise<boolean> {
    const state = STATE_BY_CODE.get(err.code);
    if (state === undefined) return false;
    const html = prefersHtml(req.headers.accept);
    if (this.respond === undefined) {
      if (!html) return false;
      this.writePage(res, state, err, requestId);
      return Promise.resolve(true);
    }
    return this.runHook(this.respond, state, req, res, err, requestId, html);
  }

  /** The built-in maintenance page for `state`, with the error's status, message and retry time. */
  private writePage(res: ServerResponse, state: InactiveState, err: ServiceUnavailableError, requestId: string): void {
    this.write(
      res,
      err.status,
      HTML_TYPE,
      maintenancePage(state, err.message, err.retryAfterSec, requestId),
      undefined,
    );
  }

  private async runHook(
    respond: LifecycleRespond,
    state: InactiveState,
    req: IncomingMessage,
    res: ServerResponse,
    err: ServiceUnavailableError,
    requestId: string,
    html: boolean,
  ): Promise<boolean> {
    const ctx: GatedRequestContext = {
      req,
      res,
      message: err.message,
      retryAfterSec: err.retryAfterSec,
      code: err.code,
      status: err.status,
      requestId,
      prefersHtml: html,
    };
    let answer: unknown;
    try {
      answer = await respond(state, ctx);
    } catch (hookErr) {
      return this.failed(res, requestId, hookErr, 'lifecycle.respond threw; sending the default problem+json answer');
    }
    if (res.headersSent || res.writableEnded) return true; // the hook answered itself
    if (answer === undefined) {
      if (!html) return false;
      this.writePage(res, state, err, requestId);
      return true;
    }
    let body: string;
    let type: string;
    const a = answer as { status?: unknown; headers?: unknown; json?: unknown; html?: unknown };
    const status = a.status ?? err.status;
    try {
      if (answer === null || typeof answer !== 'object')
        throw new TypeError(`expected { json } or { html }, got ${answer === null ? 'null' : typeof answer}`);
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599)
        throw new TypeError(`status must be an integer from 200 to 599, got ${String(status)}`);
      if (a.headers !== undefined && (a.headers === null || typeof a.headers !== 'object'))
        throw new TypeError('headers must be an object');
      if (typeof a.html === 'string' && a.json === undefined) {
        body = a.html;
        type = HTML_TYPE;
      } else if (a.html === undefined && 'json' in a) {
        const text = JSON.stringify(a.json);
        if (text === undefined) throw new TypeError('json must be serialisable');
        body = text;
        type = JSON_TYPE;
      } else {
        throw new TypeError('expected exactly one of json or html');
      }
    } catch (badAnswer) {
      return this.failed(
        res,
        requestId,
        badAnswer,
        'lifecycle.respond returned an unusable answer; sending the default problem+json answer',
      );
    }
    try {
      this.write(res, status, type, body, a.headers as Readonly<Record<string, string>> | undefined);
    } catch (writeErr) {
      return this.failed(
        res,
        requestId,
        writeErr,
        'lifecycle.respond answer could not be written; sending the default problem+json answer',
      );
    }
    return true;
  }

  private failed(res: ServerResponse, requestId: string, err: unknown, message: string): boolean {
    this.log.error({ err, requestId }, message);
    if (!res.headersSent) return false;
    // Part of the hook's own answer is already out: cut it so the client sees it is incomplete.
    res.destroy();
    return true;
  }

  private write(
    res: ServerResponse,
    status: number,
    type: string,
    body: string,
    headers: Readonly<Record<string, string>> | undefined,
  ): void {
    // A maintenance answer must not be cached as the page itself; the hook's own headers may say otherwise.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', type);
    if (headers) for (const name in headers) res.setHeader(name, headers[name]!);
    res.writeHead(status, { 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}
