/** An origin allow-list, parsed once: `'*'` marks "any origin"; the rest are exact origins. */
export interface OriginList {
  wildcard: boolean;
  origins: Set<string>;
}

/**
 * Parse an origin allow-list (CORS and the Socket.IO handshake share it). Origins must be written exactly as
 * browsers send them (scheme, host, port; no path); `fail` builds the option's error, e.g. a GateConfigError.
 */
export function parseOrigins(list: readonly string[], where: string, fail: (message: string) => Error): OriginList {
  const origins = new Set<string>();
  let wildcard = false;
  for (const origin of list) {
    if (origin === '*') {
      wildcard = true;
      continue;
    }
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw fail(`${where}: ${String(origin)} is not an origin`);
    }
    if (parsed.origin !== origin)
      throw fail(`${where}: write origins exactly as the browser sends them (${parsed.origin}), not ${origin}`);
    origins.add(origin);
  }
  return { wildcard, origins };
}
