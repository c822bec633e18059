/**
 * The enforce mode and the enforcer's logger. Both are **process-wide on purpose**: `enforce()` wraps plain
 * functions that belong to no portal, buffer or other owner, so the one place to say how contracts are applied is
 * the process (`GATEHOUSE_ENFORCE`, or `enforce.configure()` at startup). Owners that have a mode of their own (a
 * portal's `enforce` option, a TaskBuffer's) pass it explicitly to the handler rules and never change this one.
 * Nothing else in the enforcer is shared between owners.
 */
import { defaultLogger, type Logger } from '../logger.js';
import { optionChecks } from '../options.js';
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

/** The modes, in the order messages list them. */
export const ENFORCE_MODES: readonly EnforceMode[] = ['strict', 'warn', 'off'];

const DEFAULTS = { mode: 'strict' } as const satisfies { mode: EnforceMode };

const configChecks = optionChecks(
  'enforce.configure',
  (message) => new EnforcementError(message, { code: 'ERR_ENFORCE_CONFIG', functionName: '' }),
);
const envChecks = optionChecks(
  'enforcer',
  (message) => new EnforcementError(message, { code: 'ERR_ENFORCE_CONFIG', functionName: '' }),
);

/**
 * A mode from text, ignoring case and surrounding blanks (`' WARN '` is `'warn'`).
 * @param value - what was given
 * @param option - its name in the error message
 * @param check - the option checks of the source (`enforce.configure` or the environment)
 */
function parseMode(value: unknown, option: string, check: typeof configChecks): EnforceMode {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (ENFORCE_MODES.includes(text as EnforceMode)) return text as EnforceMode;
  return check.oneOf(option, value, ENFORCE_MODES);
}

/** Whether `GATEHOUSE_ENFORCE` holds a value (blank counts as unset). */
function envIsSet(): boolean {
  return (process.env.GATEHOUSE_ENFORCE ?? '').trim() !== '';
}

function modeFromEnv(): EnforceMode {
  if (!envIsSet()) return DEFAULTS.mode;
  return parseMode(process.env.GATEHOUSE_ENFORCE, 'GATEHOUSE_ENFORCE', envChecks);
}

// Process-wide on purpose (see the module comment). `undefined` until first used, so a bad GATEHOUSE_ENFORCE
// surfaces at the first definition instead of at import.
let current: EnforceMode | undefined;
let explicit: boolean | undefined;
let logger: Logger | undefined;

/**
 * Whether the process mode was chosen on purpose (`GATEHOUSE_ENFORCE` or `enforce.configure({ mode })`) rather
 * than being the built-in default.
 */
export function isEnforceModeExplicit(): boolean {
  explicit ??= envIsSet();
  return explicit;
}

/** The process-wide mode in force now (reads `GATEHOUSE_ENFORCE` on first use). */
export function getEnforceMode(): EnforceMode {
  current ??= modeFromEnv();
  return current;
}

/**
 * Set the enforcement mode and logger for the whole process (on purpose: see the module comment). Functions
 * enforced while the mode was `off` stay unwrapped; wrappers made in `strict`/`warn` follow later changes (`off`
 * makes them pass straight through). A bad value changes nothing and throws `ERR_ENFORCE_CONFIG`.
 */
export function configureEnforcer(config: EnforceConfig): void {
  const o = configChecks.object('config', config) as EnforceConfig;
  const mode = o.mode === undefined ? modeFromEnv() : parseMode(o.mode, 'mode', configChecks);
  if (o.logger !== undefined && typeof (o.logger as Partial<Logger>).child !== 'function')
    configChecks.fail('logger', 'a gatehouse (pino) logger', o.logger);
  current = mode;
  explicit = o.mode === undefined ? undefined : true;
  if (o.logger !== undefined) logger = o.logger.child({ component: 'enforcer' });
}

/** The process-wide logger warn-mode reports go to, unless their owner passes its own. */
export function enforcerLogger(): Logger {
  logger ??= defaultLogger().child({ component: 'enforcer' });
  return logger;
}
