import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GateCall } from '../pipeline/index.js';

/** A gate call for guards only (express routes, the status gate): no body, no handler. */
export function guardCall(
  route: string,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  ip: string,
): GateCall {
  return {
    transport: 'http',
    route,
    requestId,
    ip,
    headers: req.headers,
    identity: null,
    token: undefined,
    payload: undefined,
    input: undefined,
    result: undefined,
    setHeader: (name, value) => res.setHeader(name, value),
  };
}
