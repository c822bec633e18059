import type { Logger } from '../logger.js';
import { withDefaults } from '../options.js';
import { lifecycleChecks } from './errors.js';
import type { LifecycleRespond } from './gated-response.js';
import type { RemoteControl } from './remote/remote-control.js';
import type { RemoteControlOptions } from './remote/options.js';
import type { LifecycleSource } from './sources.js';
import {
  DEFAULT_MESSAGES,
  LIFECYCLE_STATES,
  MAX_RETRY_AFTER_SEC,
  type InactiveState,
  type LifecycleState,
} from './states.js';

/** How a route behaves while the service is not ACTIVE (same values as `GateConfig.lifecycle`). */
export type LifecycleRouteMode = 'gated' | 'exempt' | 'forced';

/** A compiled lifecycle gate step: returns to let the call pass, throws a {@link ServiceUnavailableError} to refuse it. */
export type LifecycleGateStep = () => void;

/** Built-in state sources. */
export type LifecycleSourceName = 'memory' | 'env' | 'file' | 'sqlite' | 'redis' | 'remote';

/** Options for {@link Lifecycle} (and the portal's `lifecycle` option). Every field is optional. */
export interface LifecycleOptions {
  /**
   * Where the state lives: `'memory'` (this process only), `'env'` (`GATEHOUSE_LIFECYCLE` and
   * `GATEHOUSE_LIFECYCLE_MESSAGE`, read at start), `'file'` (a watched JSON file), `'sqlite'` (shared by every
   * process using `dataDir`, and by the `gatehouse lifecycle` CLI), `'redis'` (the fleet's key, needs the portal's
   * `redis` option), `'remote'` (a PXControl-protocol control plane, see `remote`), or your own {@link LifecycleSource}.
   * @defaultValue 'redis' when the portal has `redis`, else 'memory'
   */
  source?: LifecycleSourceName | LifecycleSource;
  /** Directory of the SQLite store. @defaultValue './data' (the portal passes its `dataDir`) */
  dataDir?: string;
  /** JSON file of the `'file'` source. @defaultValue `<dataDir>/lifecycle.json` */
  file?: string;
  /** Environment read by the `'env'` source. @defaultValue process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * The `'remote'` source: options of its {@link RemoteControl} (each also from its `PX_*` variable; `dataDir`
   * defaults to the lifecycle's), or an existing `RemoteControl` to follow (closed by its owner, not the portal).
   * @defaultValue {} (everything from the environment)
   */
  remote?: RemoteControlOptions | RemoteControl;
  /** State of the `'memory'` source at start. @defaultValue 'ACTIVE' */
  initialState?: LifecycleState;
  /**
   * What happens when the source cannot be read: `'open'` keeps the last known state (ACTIVE at start) so
   * traffic keeps flowing; `'closed'` switches to OFFLINE until the source answers again. Logged at error level.
   * @defaultValue 'open'
   */
  failMode?: 'open' | 'closed';
  /** How often the `'sqlite'` and `'file'` sources look for changes, in ms. @defaultValue 250 */
  pollIntervalMs?: number;
  /** `Retry-After` in seconds when a state is set without one. @defaultValue 60 */
  retryAfterSec?: number;
  /** Client messages per state when a state is set without one. @defaultValue the built-in messages */
  messages?: Partial<Record<InactiveState, string>>;
  /** Response status per state, e.g. `{ PAUSED: 402 }`. @defaultValue 503 for every state */
  statusCodes?: Partial<Record<InactiveState, number>>;
  /** Logger (a child is taken). @defaultValue the gatehouse default logger */
  logger?: Logger;
  /**
   * Answer gated HTTP requests your own way (a JSON body, an HTML page): write `ctx.res` or return
   * `{ json }` / `{ html }`; return nothing for the default (an HTML page for clients preferring `text/html`,
   * problem+json otherwise). Used by the portal; a hook that throws gets the default problem+json answer.
   * @defaultValue none
   */
  respond?: LifecycleRespond;
  /**
   * Name this process is listed under in a shared store's followers (`gatehouse lifecycle status`).
   * @defaultValue the logger's `service` field (the portal's `name`), else 'gatehouse'
   */
  name?: string;
}

/** The documented defaults of {@link LifecycleOptions}. */
const DEFAULTS = {
  source: 'memory',
  dataDir: './data',
  failMode: 'open',
  pollIntervalMs: 250,
  retryAfterSec: 60,
  initialState: 'ACTIVE',
} as const satisfies LifecycleOptions;

/** {@link LifecycleOptions} with every default applied and every value checked. */
export interface ResolvedLifecycleOptions extends LifecycleOptions {
  source: LifecycleSourceName | LifecycleSource;
  dataDir: string;
  failMode: 'open' | 'closed';
  pollIntervalMs: number;
  retryAfterSec: number;
  initialState: LifecycleState;
  messages: Readonly<Record<InactiveState, string>>;
  statusCodes: Readonly<Record<InactiveState, number>>;
}

const check = lifecycleChecks('Lifecycle');
const INACTIVE = LIFECYCLE_STATES.filter((s): s is InactiveState => s !== 'ACTIVE');
const SERVICE_STATUS = 'an integer from 400 to 599 other than 500';

/**
 * Resolve lifecycle options over {@link DEFAULTS}; a bad value is refused with a `LifecycleError`
 * (`ERR_LIFECYCLE_OPTIONS`) whose message names the option and what it accepts.
 */
export function resolveLifecycleOptions(options: LifecycleOptions = {}): ResolvedLifecycleOptions {
  const o = withDefaults(DEFAULTS, options);
  const messages = perState(o.messages, 'messages', (key, v) => check.string(`messages.${key}`, v));
  const statusCodes = perState(o.statusCodes, 'statusCodes', (key, v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 400 || v > 599 || v === 500)
      check.fail(`statusCodes.${key}`, SERVICE_STATUS, v);
    return v as number;
  });
  return {
    ...o,
    failMode: check.oneOf('failMode', o.failMode, ['open', 'closed'] as const),
    pollIntervalMs: check.int('pollIntervalMs', o.pollIntervalMs, { min: 10, max: 60_000 }),
    retryAfterSec: check.int('retryAfterSec', o.retryAfterSec, { min: 0, max: MAX_RETRY_AFTER_SEC }),
    initialState: check.oneOf('initialState', o.initialState, LIFECYCLE_STATES),
    dataDir: check.string('dataDir', o.dataDir),
    messages: { ...DEFAULT_MESSAGES, ...messages },
    statusCodes: { PAUSED: 503, MAINTENANCE: 503, OFFLINE: 503, FAILED: 503, ...statusCodes },
  };
}

function perState<T>(
  value: unknown,
  option: string,
  accept: (key: InactiveState, v: unknown) => T,
): Partial<Record<InactiveState, T>> {
  if (value === undefined) return {};
  const out: Partial<Record<InactiveState, T>> = {};
  for (const [key, v] of Object.entries(check.object(option, value))) {
    if (!INACTIVE.includes(key as InactiveState))
      check.fail(`${option}.${key}`, `a key among ${INACTIVE.join(', ')}`, v);
    out[key as InactiveState] = accept(key as InactiveState, v);
  }
  return out;
}
