import helmet, { type HelmetOptions } from 'helmet';

/** A header name and value to set on every response. */
export type HeaderPair = readonly [name: string, value: string];

/**
 * Run helmet once against a recording response and keep the headers it sets, so every response gets the same
 * security headers without paying for helmet's middleware on each request.
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
  helmet(options)({} as never, res as never, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  return [...recorded.entries()];
}
