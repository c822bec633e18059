import type { IncomingMessage, ServerResponse } from 'node:http';
import { LifecycleError } from '../errors.js';
import { DEFAULT_MESSAGES, LIFECYCLE_CODES, type InactiveState } from '../states.js';
import { RemoteControl } from './remote-control.js';

/** Options for {@link remoteControl}. Every field is optional. */
export interface RemoteControlMiddlewareOptions {
  /** The remote control to follow. @defaultValue RemoteControl.shared() */
  control?: RemoteControl;
  /** Paths always let through (exact match on the path, query ignored). @defaultValue ['/health'] */
  healthPaths?: readonly string[];
  /** Response status per state, e.g. `{ PAUSED: 402 }` like the stock Node SDK. @defaultValue 503 for every state */
  statusCodes?: Partial<Record<InactiveState, number>>;
  /** `Retry-After` seconds when the control plane sets none. @defaultValue 60 */
  retryAfterSec?: number;
  /**
   * Body of a gated answer: `'problem'` is gatehouse's problem+json (`{ type, title, status, detail, code, state }`);
   * `'pxcontrol'` is the stock SDKs' `{ error, status, message }`.
   * @defaultValue 'problem'
   */
  body?: 'problem' | 'pxcontrol';
}

type Next = (err?: unknown) => void;

const TITLES: Readonly<Record<number, string>> = {
  402: 'Payment Required',
  423: 'Locked',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/**
 * Express (or plain node) middleware that gates every request on a {@link RemoteControl}, for apps not built on
 * `ServicePortal` (the pxcontrol middleware's equivalent). ACTIVE passes; otherwise the request is answered with
 * the state's message and `Retry-After`, except for the health paths.
 *
 * @example
 * ```ts
 * const app = express();
 * app.use(remoteControl({ statusCodes: { PAUSED: 402 } }));   // RemoteControl.shared() from PX_* env
 * ```
 */
export function remoteControl(
  options: RemoteControlMiddlewareOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const health = new Set(options.healthPaths ?? ['/health']);
  const codes: Record<InactiveState, number> = { PAUSED: 503, MAINTENANCE: 503, OFFLINE: 503, FAILED: 503 };
  for (const [state, code] of Object.entries(options.statusCodes ?? {})) {
    if (!(state in codes))
      throw new LifecycleError(`remoteControl.statusCodes: unknown state ${state}`, { code: 'ERR_LIFECYCLE_OPTIONS' });
    if (!Number.isInteger(code) || code < 400 || code > 599)
      throw new LifecycleError(`remoteControl.statusCodes.${state} must be a 4xx or 5xx status, got ${String(code)}`, {
        code: 'ERR_LIFECYCLE_OPTIONS',
      });
    codes[state as InactiveState] = code;
  }
  const retryDefault = options.retryAfterSec ?? 60;
  if (!Number.isInteger(retryDefault) || retryDefault < 0)
    throw new LifecycleError('remoteControl.retryAfterSec must be a whole number >= 0', {
      code: 'ERR_LIFECYCLE_OPTIONS',
    });
  const format = options.body ?? 'problem';
  if (format !== 'problem' && format !== 'pxcontrol')
    throw new LifecycleError("remoteControl.body must be 'problem' or 'pxcontrol'", { code: 'ERR_LIFECYCLE_OPTIONS' });
  // Resolved now, so a missing PX_TOKEN fails at startup, not on the first request.
  const control = options.control ?? RemoteControl.shared();

  return (req, res, next) => {
    const state = control.status;
    if (state === 'ACTIVE') return next();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if (health.has(q === -1 ? url : url.slice(0, q))) return next();
    const status = codes[state];
    const message = control.message || DEFAULT_MESSAGES[state];
    const retry = control.retryAfterSec ?? retryDefault;
    const body =
      format === 'pxcontrol'
        ? { error: status === 402 ? 'payment_required' : 'service_unavailable', status: state, message }
        : {
            type: 'about:blank',
            title: TITLES[status] ?? 'Service Unavailable',
            status,
            detail: message,
            code: LIFECYCLE_CODES[state],
            state,
          };
    const text = JSON.stringify(body);
    res.statusCode = status;
    res.setHeader(
      'content-type',
      format === 'pxcontrol' ? 'application/json; charset=utf-8' : 'application/problem+json; charset=utf-8',
    );
    res.setHeader('retry-after', String(retry));
    res.setHeader('cache-control', 'no-store');
    res.setHeader('content-length', Buffer.byteLength(text));
    res.end(text);
  };
}
