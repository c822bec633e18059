import type { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';

/**
 * Emit an event without letting a throwing listener break a worker loop: the throw is logged instead.
 * @param emitter - the buffer emitting
 * @param log - its logger
 * @param event - event name
 * @param args - event arguments
 */
export function emitSafely(emitter: EventEmitter, log: Logger, event: string, args: readonly unknown[]): void {
  try {
    emitter.emit(event, ...args);
  } catch (err) {
    log.error({ err, event }, 'event listener threw');
  }
}
