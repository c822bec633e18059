import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Options for the gatehouse root logger. */
export interface LoggerConfig {
  /** Minimum level. @defaultValue `process.env.GATEHOUSE_LOG_LEVEL ?? 'info'` (`'silent'` under vitest) */
  level?: LoggerOptions['level'];
  /** Extra fields on every line, e.g. `{ service: 'notes' }`. */
  base?: Record<string, unknown>;
}

/** Paths redacted from every log line: credentials never reach logs. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'token',
  'password',
  'secret',
];

function defaultLevel(): string {
  if (process.env.GATEHOUSE_LOG_LEVEL) return process.env.GATEHOUSE_LOG_LEVEL;
  return process.env.VITEST ? 'silent' : 'info';
}

/**
 * Create the root logger (pino, JSON lines on stdout). Capabilities take a child:
 * `log.child({ component: 'queue' })`.
 */
export function createLogger(config: LoggerConfig = {}): Logger {
  return pino({
    level: config.level ?? defaultLevel(),
    base: config.base ?? null,
    redact: { paths: REDACT, censor: '[redacted]' },
  });
}

let shared: Logger | undefined;

/** The process-wide default logger, used by components that were not handed one. */
export function defaultLogger(): Logger {
  shared ??= createLogger();
  return shared;
}
