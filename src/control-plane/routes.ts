import { z } from 'zod';
import { HttpError, type ServicePortal } from '../servers/index.js';
import type { SdkVersionEntry, StatusObject } from './protocol.js';

/** What the protocol's HTTP endpoints need from the control plane. */
export interface ProtocolRouteDeps {
  /** The status object of a token's project, or why there is none. */
  lookup(token: string): StatusObject | 'unknown' | 'revoked';
  /** The version catalogue. */
  versions(): { node: SdkVersionEntry; python: SdkVersionEntry; gatehouse: SdkVersionEntry };
}

const versionEntry = z.object({
  latest: z.string(),
  minimum_supported: z.string(),
  changelog_url: z.string().nullable(),
});

/**
 * The protocol's HTTP side: the poll fallback `GET /api/v1/status/{token}` (200 with the status object; 401
 * for an unknown token, 403 for a revoked one, so clients stop polling) and the version catalogue
 * `GET /api/v1/sdk/versions`. Both are exempt from the portal's own lifecycle.
 */
export function mountProtocolRoutes(portal: ServicePortal, deps: ProtocolRouteDeps): void {
  portal.endpoint(
    '/api/v1/status/:token',
    {
      method: 'GET',
      description: 'PXControl poll fallback: the status object of the project the token opens',
      tags: ['protocol'],
      gate: { auth: 'none', lifecycle: 'exempt' },
      input: z.object({ token: z.string().min(1).max(256) }),
    },
    ({ input, setHeader }) => {
      setHeader('Cache-Control', 'no-store');
      const found = deps.lookup(input.token);
      if (found === 'unknown') throw new HttpError(401, 'Unknown project token', { code: 'ERR_CONTROL_TOKEN_UNKNOWN' });
      if (found === 'revoked')
        throw new HttpError(403, 'This project token has been revoked', { code: 'ERR_CONTROL_TOKEN_REVOKED' });
      return found;
    },
  );
  portal.endpoint(
    '/api/v1/sdk/versions',
    {
      method: 'GET',
      description:
        'PXControl version catalogue: latest and minimum supported SDK versions for node and python, and gatehouse for its own remote source',
      tags: ['protocol'],
      gate: { auth: 'none', lifecycle: 'exempt' },
      input: z.object({}),
      output: z.object({ node: versionEntry, python: versionEntry, gatehouse: versionEntry }),
    },
    () => deps.versions(),
  );
}
