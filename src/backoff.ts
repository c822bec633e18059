/**
 * The one retry backoff of gatehouse, used by the HTTP client, the task buffer and (to come) every reconnect
 * loop: one option shape, one resolver that validates it, one delay function. Each caller passes its own
 * defaults, what `jitter: true` means for it, the option name for messages and the error to throw.
 */

/** How the delay before a retry grows with the retry number. */
export type BackoffType = 'exponential' | 'linear' | 'fixed';

/**
 * How a delay is randomised so that many retries do not fire together:
 * - `'equal'`: uniformly between half the delay and all of it (a retry never comes back at once; TaskBuffer);
 * - `'full'`: uniformly between 0 and the delay (spreads a crowd best; the HTTP client and reconnect loops);
 * - `'none'`: the delay as computed.
 */
export type BackoffJitter = 'equal' | 'full' | 'none';

/**
 * Backoff between retries. Delay before retry n (1-based): fixed `delayMs`, linear `delayMs * n`, exponential
 * `delayMs * 2^(n-1)`, never above `maxDelayMs`, then jittered. Defaults differ per use (TaskBuffer: 1000 ms up
 * to 60 s, equal jitter; sendRequest: 200 ms up to 5 s, full jitter).
 */
export interface BackoffOptions {
  /** Growth of the delay. @defaultValue 'exponential' */
  type?: BackoffType;
  /** Base delay in ms (finite, >= 0). */
  delayMs?: number;
  /** Upper bound of one delay in ms, before jitter (finite, >= 0). */
  maxDelayMs?: number;
  /**
   * Randomise each delay: `true` uses the caller's kind (see {@link BackoffJitter}), `false` is `'none'`, or
   * name the kind. @defaultValue true
   */
  jitter?: boolean | BackoffJitter;
}

/** Backoff options with every field resolved. */
export interface ResolvedBackoff {
  type: BackoffType;
  delayMs: number;
  maxDelayMs: number;
  jitter: BackoffJitter;
}

/** What one caller of {@link resolveBackoff} brings: its defaults, its jitter, its option name and error. */
export interface BackoffSettings {
  /** Values of fields no layer sets. */
  defaults: ResolvedBackoff;
  /** The jitter `jitter: true` stands for at this caller. */
  jitter: BackoffJitter;
  /** Option path used in messages, e.g. `'backoff'` → `backoff.delayMs must be ...`. @defaultValue 'backoff' */
  option?: string;
  /** Builds the error thrown for a bad value (the caller's class and code). @defaultValue a `TypeError` */
  error?: (message: string) => Error;
}

const TYPES: readonly unknown[] = ['exponential', 'linear', 'fixed'];
const JITTERS: readonly unknown[] = ['equal', 'full', 'none'];

function badMs(v: unknown): boolean {
  return v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0);
}

/**
 * Check backoff options without throwing.
 * @param options - user options (undefined is fine)
 * @param option - option path for the message @defaultValue 'backoff'
 * @returns a message naming the first bad field (`backoff.delayMs must be ...`), or null when valid
 */
export function backoffProblem(options: unknown, option: string = 'backoff'): string | null {
  if (options === undefined) return null;
  if (typeof options !== 'object' || options === null) return `${option} must be an object, got ${String(options)}`;
  const o = options as Record<string, unknown>;
  if (o.type !== undefined && !TYPES.includes(o.type)) {
    return `${option}.type must be 'exponential', 'linear' or 'fixed', got ${String(o.type)}`;
  }
  if (badMs(o.delayMs)) return `${option}.delayMs must be a finite number >= 0, got ${String(o.delayMs)}`;
  if (badMs(o.maxDelayMs)) return `${option}.maxDelayMs must be a finite number >= 0, got ${String(o.maxDelayMs)}`;
  if (o.jitter !== undefined && typeof o.jitter !== 'boolean' && !JITTERS.includes(o.jitter)) {
    return `${option}.jitter must be a boolean or 'equal', 'full' or 'none', got ${String(o.jitter)}`;
  }
  return null;
}

/**
 * Validate and resolve backoff options. Several layers (e.g. call options over client defaults) are merged
 * field by field, the first layer that sets a field winning; `settings.defaults` fill the rest.
 * @param layers - one options object, or layers in order of precedence (undefined entries are skipped)
 * @param settings - the caller's defaults, jitter kind, option name and error factory
 * @returns the resolved backoff
 * @throws whatever `settings.error` builds (a `TypeError` by default), naming the bad field
 * @example
 * ```ts
 * const backoff = resolveBackoff(options.backoff, { defaults: TASK_BACKOFF, jitter: 'equal',
 *   error: (m) => new BufferError(m, { code: 'ERR_BUFFER_OPTIONS' }) });
 * ```
 */
export function resolveBackoff(
  layers: BackoffOptions | undefined | readonly (BackoffOptions | undefined)[],
  settings: BackoffSettings,
): ResolvedBackoff {
  const list = Array.isArray(layers)
    ? (layers as readonly (BackoffOptions | undefined)[])
    : [layers as BackoffOptions | undefined];
  const r = { ...settings.defaults } as {
    type: BackoffType;
    delayMs: number;
    maxDelayMs: number;
    jitter: boolean | BackoffJitter;
  };
  // Apply from the lowest precedence up, so earlier layers override later ones.
  for (let i = list.length - 1; i >= 0; i--) {
    const layer = list[i];
    const problem = backoffProblem(layer, settings.option);
    if (problem !== null) throw settings.error ? settings.error(problem) : new TypeError(problem);
    if (layer === undefined) continue;
    if (layer.type !== undefined) r.type = layer.type;
    if (layer.delayMs !== undefined) r.delayMs = layer.delayMs;
    if (layer.maxDelayMs !== undefined) r.maxDelayMs = layer.maxDelayMs;
    if (layer.jitter !== undefined) r.jitter = layer.jitter;
  }
  return { type: r.type, delayMs: r.delayMs, maxDelayMs: r.maxDelayMs, jitter: jitterKind(r.jitter, settings.jitter) };
}

function jitterKind(jitter: boolean | BackoffJitter, onTrue: BackoffJitter): BackoffJitter {
  return jitter === true ? onTrue : jitter === false ? 'none' : jitter;
}

/**
 * The delay in ms before retry `n` (1 = the first retry), capped at `maxDelayMs` before jitter.
 * Pure: the only source of randomness is `random`, so schedules are testable.
 * @param backoff - a resolved backoff; a boolean `jitter` is accepted too (`true` = `'full'`, `false` = `'none'`)
 * @param n - retry number, 1-based (the number of failed attempts so far; values below 1 count as 1)
 * @param random - uniform random source in [0, 1) used for jitter @defaultValue Math.random
 * @returns the delay in whole ms
 * @example
 * ```ts
 * backoffDelay({ type: 'exponential', delayMs: 100, maxDelayMs: 1000, jitter: 'none' }, 3); // 400
 * ```
 */
export function backoffDelay(
  backoff: Omit<ResolvedBackoff, 'jitter'> & { jitter: boolean | BackoffJitter },
  n: number,
  random: () => number = Math.random,
): number {
  const k = Math.max(1, Math.floor(n));
  let raw: number;
  if (backoff.type === 'fixed') raw = backoff.delayMs;
  else if (backoff.type === 'linear') raw = backoff.delayMs * k;
  else raw = backoff.delayMs * 2 ** Math.min(k - 1, 1023); // 2^1023 * delay is Infinity at worst; min() caps it
  const capped = Math.min(raw, backoff.maxDelayMs);
  const jitter = jitterKind(backoff.jitter, 'full');
  if (jitter === 'full') return Math.floor(random() * (capped + 1));
  if (jitter === 'equal') return Math.round(capped / 2 + random() * (capped / 2));
  return Math.round(capped);
}
