/** What a secret is replaced with in logs and in the options shown. */
export const REDACTED = '[redacted]';

/** A URL with its `user:password@` part (if any) replaced by `[redacted]@`, for logs and the options shown. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1[redacted]@');
}

/** `text` with every occurrence of the token (raw and URL-encoded) replaced by `[redacted]`. */
export function redactToken(text: string, token: string): string {
  let out = text.split(token).join(REDACTED);
  const encoded = encodeURIComponent(token);
  if (encoded !== token) out = out.split(encoded).join(REDACTED);
  return out;
}

/** `text` with the user:password part of each of `urls` (and the bare password) taken out. */
export function redactUrlsIn(text: string, urls: readonly string[]): string {
  let out = text;
  for (const url of urls) {
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]*)@/i.exec(url);
    if (!m || !m[1]) continue;
    out = out.split(m[1]).join(REDACTED);
    const password = m[1].split(':')[1];
    if (password) out = out.split(password).join(REDACTED);
  }
  return out;
}
