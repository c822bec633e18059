/** A URL with its `user:password@` part (if any) replaced by `[redacted]@`, for logs and the options shown. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1[redacted]@');
}
