/**
 * Turning `endpoint` (and `baseUrl`) into the request target, and naming the real problem when that is not
 * possible: an empty URL, an unsupported scheme, a missing scheme, an invalid host or port, a relative path
 * without a baseUrl. Parsing on the success path is as before (one `new URL` per absolute endpoint, baseUrls
 * cached); the descriptions run only on failure.
 */

/** Where a request goes: `origin` (scheme://host[:port]) and `path` (path + query). */
export interface Target {
  origin: string;
  path: string;
}

interface BaseInfo {
  origin: string;
  prefix: string;
}

/** Longest piece of a bad URL quoted in a message. */
const SHOWN_MAX = 200;

/** A scheme at the start (`ftp:`, `mailto:`), not a `host:port` (`localhost:3000`). */
const SCHEME = /^([a-z][a-z0-9+.-]*):(?!\d+(?:[/?#]|$))/i;

/** How a bad URL is quoted in a message: credentials redacted by `redact`, long ones cut. */
function quote(url: string, redact: (url: string) => string): string {
  const shown = redact(url);
  return JSON.stringify(shown.length > SHOWN_MAX ? `${shown.slice(0, SHOWN_MAX)}...` : shown);
}

/** The first path segment looks like a host name (`example.com`, `localhost`, `10.0.0.1:8080`). */
function looksLikeHost(url: string): boolean {
  const first = url.split(/[/?#]/, 1)[0] ?? '';
  if (first === '' || first.startsWith('.')) return false;
  return (
    first === 'localhost' ||
    /^localhost:\d+$/i.test(first) ||
    /^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$/i.test(first) ||
    /^[a-z0-9.-]+:\d+$/i.test(first)
  );
}

/** Why an http(s) URL that `new URL` refused is bad: no host, a bad port, a bad host. */
function describeUnparsable(url: string, label: string, redact: (url: string) => string): string {
  const q = quote(url, redact);
  const slashes = url.indexOf('//');
  const rest = slashes === -1 ? '' : url.slice(slashes + 2);
  const authority = rest.split(/[/?#]/, 1)[0] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const m = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort);
  const host = m?.[1] ?? hostPort;
  const port = m?.[2];
  if (host === '') return `${label} ${q} has no host`;
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) > 65_535))
    return `${label} ${q} has an invalid port ${JSON.stringify(port)}`;
  if (!URL.canParse(`http://${host}`)) return `${label} ${q} has an invalid host ${JSON.stringify(host)}`;
  return `${label} ${q} is not a valid URL`;
}

/**
 * Why `url` (not an absolute http(s) URL) cannot be used, or undefined when it is a relative path to join to a
 * baseUrl. `hasBase` says whether a baseUrl is there to join it to.
 */
function describeNonAbsolute(
  url: string,
  label: string,
  hasBase: boolean,
  redact: (url: string) => string,
): string | undefined {
  if (!hasBase && url.trim() === '')
    return `${label} is empty: give an absolute http(s) URL, or a path together with a baseUrl`;
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https')
    return `${label} ${quote(url, redact)} is not a valid URL: write it as ${scheme}://host/path`;
  if (scheme !== undefined)
    return `unsupported URL scheme "${scheme}:" in ${label} ${quote(url, redact)}: only http: and https: are supported`;
  if (hasBase) return undefined;
  if (label === 'baseUrl' || looksLikeHost(url)) {
    const fixed = redact(url).replace(/^\/+/, '');
    return `${label} ${quote(url, redact)} has no scheme: write ${JSON.stringify(`https://${fixed.length > SHOWN_MAX ? `${fixed.slice(0, SHOWN_MAX)}...` : fixed}`)}${label === 'endpoint' ? ' (or set a baseUrl and pass a path)' : ''}`;
  }
  return `relative endpoint ${quote(url, redact)} needs a baseUrl (RequestConfig.baseUrl, createClient({ baseUrl }) or an absolute http(s) URL)`;
}

/** Whether `endpoint` starts with `http://` or `https://` (any case). */
export function isAbsolute(endpoint: string): boolean {
  const c = endpoint.charCodeAt(0);
  // 'h' or 'H'
  return (c === 104 || c === 72) && /^https?:\/\//i.test(endpoint);
}

/**
 * Parse an absolute http(s) URL into a target.
 * @param url - the URL
 * @param redact - how the URL is shown in a message
 * @param label - what the URL is called in a message
 * @returns the target, or a message naming the problem
 */
export function parseAbsolute(url: string, redact: (url: string) => string, label = 'endpoint'): Target | string {
  if (!isAbsolute(url))
    return (
      describeNonAbsolute(url, label, false, redact) ?? `${label} ${quote(url, redact)} is not an absolute http(s) URL`
    );
  try {
    const u = new URL(url);
    return { origin: u.origin, path: u.pathname + u.search };
  } catch {
    return describeUnparsable(url, label, redact);
  }
}

/**
 * Parsed `baseUrl`s (parsed once, not per request). Bounded: cleared when it grows large. Shared by every client
 * of the process on purpose: a pure function of the URL. Refusals are not cached, since their message is
 * redacted with the calling client's `redactFields`.
 */
const baseCache = new Map<string, BaseInfo>();

function parseBase(baseUrl: string, redact: (url: string) => string): BaseInfo | string {
  let info = baseCache.get(baseUrl);
  if (info !== undefined) return info;
  const parsed = parseAbsolute(baseUrl, redact, 'baseUrl');
  if (typeof parsed === 'string') return parsed;
  info = { origin: parsed.origin, prefix: parsed.path.endsWith('/') ? parsed.path.slice(0, -1) : parsed.path };
  if (baseCache.size > 256) baseCache.clear();
  baseCache.set(baseUrl, info);
  return info;
}

/**
 * The target of `endpoint`: an absolute http(s) URL as is, anything else as a path under `baseUrl`.
 * @param endpoint - what the caller passed
 * @param baseUrl - the client's base URL ('' for none)
 * @param redact - how URLs are shown in messages (credentials and secret query values removed)
 * @returns the target, or a message naming the problem
 */
export function resolveTarget(endpoint: string, baseUrl: string, redact: (url: string) => string): Target | string {
  if (isAbsolute(endpoint)) return parseAbsolute(endpoint, redact);
  // A path needs no checks on the hot path; anything with a ':' or no leading '/' might be a mistyped URL.
  if (endpoint.charCodeAt(0) !== 47 || endpoint.includes(':')) {
    const problem = describeNonAbsolute(endpoint, 'endpoint', baseUrl !== '', redact);
    if (problem !== undefined) return problem;
  } else if (baseUrl === '') {
    return describeNonAbsolute(endpoint, 'endpoint', false, redact) as string;
  }
  const base = parseBase(baseUrl, redact);
  if (typeof base === 'string') return base;
  const path =
    endpoint === '' ? base.prefix || '/' : base.prefix + (endpoint.charCodeAt(0) === 47 ? endpoint : `/${endpoint}`);
  return { origin: base.origin, path };
}
