import type { Logger } from '../logger.js';
import { defaultLogger } from '../logger.js';

/**
 * The background capability's logger: a child of the gatehouse default logger as it is now, taken once per
 * schedule or Executor (not cached for the process, so a later default logger is followed).
 */
export function backgroundLogger(): Logger {
  return defaultLogger().child({ component: 'background' });
}

/** The stack of a thrown value, or its string form when it is not an Error. */
export function stackOf(error: unknown): string {
  if (error instanceof Error && typeof error.stack === 'string') return error.stack;
  try {
    return String(error);
  } catch {
    return '[unprintable thrown value]';
  }
}

/**
 * Hand a failure to the user's hook, or log it when there is none (or the hook itself throws). Never throws:
 * background failures must not turn into unhandled rejections.
 */
export function report(
  logger: Logger,
  context: Record<string, unknown>,
  error: unknown,
  hook: (() => void) | undefined,
): void {
  if (hook) {
    try {
      hook();
      return;
    } catch (hookError) {
      logger.error({ ...context, err: hookError, original: stackOf(error) }, 'background onError hook threw');
      return;
    }
  }
  logger.error({ ...context, err: error }, 'background work failed');
}
