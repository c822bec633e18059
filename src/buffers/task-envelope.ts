/**
 * The trace envelope of a task's stored data: a job pushed during traced work stores the W3C trace beside its
 * data (only then, so untraced payloads keep their plain shape); every read unwraps it.
 */
import { currentTrace, formatTraceparent } from '../trace.js';

const TRACE_KEY = '$gatehouse.trace';
const DATA_KEY = '$gatehouse.data';

/**
 * Wrap a serialised payload with the current trace, if any.
 * @param payload - the data's JSON text
 * @returns the JSON text to store
 */
export function wrapTraced(payload: string): string {
  const trace = currentTrace();
  return trace === undefined
    ? payload
    : `{${JSON.stringify(TRACE_KEY)}:"${formatTraceparent(trace)}",${JSON.stringify(DATA_KEY)}:${payload}}`;
}

/**
 * The data and traceparent of stored (parsed) data.
 * @param stored - the parsed stored value
 */
export function unwrapTraced(stored: unknown): { data: unknown; traceparent: string | undefined } {
  if (typeof stored === 'object' && stored !== null && !Array.isArray(stored)) {
    const o = stored as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 2 && typeof o[TRACE_KEY] === 'string' && Object.hasOwn(o, DATA_KEY))
      return { data: o[DATA_KEY], traceparent: o[TRACE_KEY] };
  }
  return { data: stored, traceparent: undefined };
}
