// The global express typing: what `portal.gate()` and the portal's fall-through put on express's `req`.
import type { Identity } from '../pipeline/index.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `portal.gate()`: the authenticated caller, or null. */
      identity?: Identity | null;
      /** The gatehouse request id, also sent as `X-Request-Id`. */
      requestId?: string;
    }
  }
}

export {};
