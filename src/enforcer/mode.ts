import { defaultLogger, type Logger } from '../logger.js';
import { EnforcementError } from './errors.js';

/**
 * How contracts are applied:
 * - `strict`: broken contracts throw {@link EnforcementError}.
 * - `warn`: broken contracts are logged (once per function and rule) and the call goes on.
 * - `off`: nothing is checked; `enforce()` returns the original function object.
 */
export type EnforceMode = 'strict' | 'warn' | 'off';

/** Options of `enforce.configure()`. */
export interface EnforceConfig {
  /**
   * The mode. Leave it out to go back to the `GATEHOUSE_ENFORCE` environment variable.
   * @defaultValue `process.env.GATEHOUSE_ENFORCE ?? 'strict'`
   */
  mode?: EnforceMode;
  /** Logger for warn-mode reports. @defaultValue the gatehouse default logger, child `{ component: 'enforcer' }` */
  logger?: Logger;
}

const MODES: readonly EnforceMode[] = ['strict', 'warn', 'off'];

/** The env-or-default mode, read once. */
const DEFAULTS = { mode: 'strict' } as const satisfies { mode: EnforceMode };

/** Resolved mode; `undefined` until first used so a bad `GATEHOUSE_ENFORCE` surfaces at a definition. */
let current: EnforceMode | undefined;
let logger: Logger | undefined;

function parseMode(value: unknown, source: string): EnforceMode {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (MODES.includes(text as EnforceMode)) return text as EnforceMode;
  throw new EnforcementError(`${source} must be one of ${MODES.join(', ')}; got ${JSON.stringify(value)}`, {
    code: 'ERR_ENFORCE_CONFIG',
    functionName: '',
  });
}

function modeFromEnv(): EnforceMode {
  const raw = process.env.GATEHOUSE_ENFORCE;
  if (raw === undefined || raw.trim() === '') return DEFAULTS.mode;
  return parseMode(raw, 'GATEHOUSE_ENFORCE');
}

/** Whether the mode was chosen on purpose: `GATEHOUSE_ENFORCE` is set or `enforce.configure({ mode })` was called. */
let explicit: boolean | undefined;

/**
 * Whether the mode was chosen on purpose (`GATEHOUSE_ENFORCE` or `enforce.configure({ mode })`) rather than being
 * the built-in default.
 */
export function isEnforceModeExplicit(): boolean {
  explicit ??= (process.env.GATEHOUSE_ENFORCE ?? '').trim() !== '';
  return explicit;
}

/** The mode in force now (reads `GATEHOUSE_ENFORCE` on first use). */
export function getEnforceMode(): EnforceMode {
  current ??= modeFromEnv();
  return current;
}

/**
 * Set the enforcement mode and logger for the whole process. Functions enforced while the mode was `off`
 * stay unwrapped; wrappers made in `strict`/`warn` follow later changes (`off` makes them pass straight through).
 */
export function configureEnforcer(config: EnforceConfig): void {
  if (config.mode === undefined) {
    current = modeFromEnv();
    explicit = undefined;
  } else {
    current = parseMode(config.mode, 'enforce.configure({ mode })');
    explicit = true;
  }
  if (config.logger !== undefined) logger = config.logger.child({ component: 'enforcer' });
}

/** The logger warn-mode reports go to. */
export function enforcerLogger(): Logger {
  logger ??= defaultLogger().child({ component: 'enforcer' });
  return logger;
}
