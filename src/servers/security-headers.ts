import type helmet from 'helmet';
import type { HelmetOptions } from 'helmet';
import { loadNow } from '../load.js';

/** A header name and value to set on every response. */
export type HeaderPair = readonly [name: string, value: string];

/**
 * Run helmet once against a recording response and keep the headers it sets, so every response gets the same
 * security headers without paying for helmet's middleware on each request. The names come out in lower case,
 * as HTTP/2 writes every name and fastify writes its own (names are case-insensitive, RFC 9110 5.1): on every
 * response node lower-cases each name of 4 to 17 characters to spot the ones it handles itself, and a name
 * already in lower case costs it no new string (about 0.25 µs less for a JSON answer's nine names).
 */
export function securityHeaderList(options: HelmetOptions): HeaderPair[] {
  const recorded = new Map<string, string>();
  const res = {
    setHeader(name: string, value: string | number | readonly string[]): void {
      recorded.set(name, Array.isArray(value) ? value.join(', ') : String(value));
    },
    removeHeader(name: string): void {
      recorded.delete(name);
    },
  };
  let failure: unknown;
  // helmet's CommonJS build is the function itself (its typings describe the ES default export).
  loadNow<typeof helmet>('helmet')(options)({} as never, res as never, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  return [...recorded.entries()].map(([name, value]): HeaderPair => [name.toLowerCase(), value]);
}

/**
 * helmet's headers that act only inside an HTML document (its opener, its referrers, its prefetching, IE8's
 * download prompt, Flash and PDF policy files, the legacy XSS auditor). A JSON body sent with `nosniff` never
 * becomes a document, so JSON answers leave them out (OWASP REST Security Cheat Sheet, "Security Headers").
 */
const DOCUMENT_ONLY = new Set([
  'cross-origin-opener-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
]);

/** The policy of a JSON answer: it loads nothing and is never framed (OWASP's choice for APIs). */
export const JSON_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * The headers of `list` that act on a JSON answer: all but the document-only ones, and a content security policy
 * (when `list` has one) that allows nothing, since a JSON body loads nothing: the configured policy is for pages.
 */
export function jsonHeaderList(list: readonly HeaderPair[]): HeaderPair[] {
  return list
    .filter(([name]) => !DOCUMENT_ONLY.has(name.toLowerCase()))
    .map((pair): HeaderPair => (pair[0].toLowerCase() === 'content-security-policy' ? [pair[0], JSON_CSP] : pair));
}

/**
 * One flat header list from the portal's standard headers, this response's defaults and the headers gates or the
 * handler set (`own`). `own` wins over the others (but never over Content-Length) and the last of a repeated name
 * wins, case-insensitively. The usual case (rate-limit headers, nothing repeated) is a plain concatenation.
 */
export function mergeHeaders(
  standard: readonly string[],
  standardNames: ReadonlySet<string>,
  own: readonly string[],
  defaults: readonly string[],
): string[] {
  let names: string[] | undefined;
  let clash = false;
  for (let i = 0; i < own.length; i += 2) {
    const name = own[i]!.toLowerCase();
    if (standardNames.has(name) || names?.includes(name)) clash = true;
    (names ??= []).push(name);
  }
  if (!clash) return [...standard, ...defaults, ...own];
  const last = new Map<string, number>();
  for (let i = 0; i < own.length; i += 2) {
    const name = own[i]!.toLowerCase();
    if (name !== 'content-length') last.set(name, i); // the body's length is the portal's to state
  }
  const out: string[] = [];
  for (const list of [standard, defaults]) {
    for (let i = 0; i < list.length; i += 2) if (!last.has(list[i]!.toLowerCase())) out.push(list[i]!, list[i + 1]!);
  }
  for (let i = 0; i < own.length; i += 2) if (last.get(own[i]!.toLowerCase()) === i) out.push(own[i]!, own[i + 1]!);
  return out;
}
