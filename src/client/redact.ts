/**
 * Redaction of secrets (auth headers, API key header, configured field names, the credential itself)
 * from the result log, `toJSON()` and logger output. Only runs when a log is read or written.
 */

/** Replacement text for secrets. */
export const REDACTED = '[redacted]';

/** Header and field names always treated as secret (lower-case). */
const ALWAYS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'password',
  'passwd',
  'secret',
  'token',
  'apikey',
  'api_key',
  'api-key',
  'accesstoken',
  'access_token',
  'refreshtoken',
  'refresh_token',
  'clientsecret',
  'client_secret',
  'authtoken',
  'auth_token',
  'idtoken',
  'id_token',
];

/** A set of secret names plus literal secret values to scrub from free text. */
export class Redactor {
  readonly #names: ReadonlySet<string>;
  readonly #values: readonly string[];

  /**
   * @param extraNames - configured field/header names (any case)
   * @param values - literal secrets (e.g. the auth token) scrubbed from messages
   */
  constructor(extraNames: readonly string[], values: readonly string[]) {
    const names = new Set(ALWAYS);
    for (const n of extraNames) names.add(n.toLowerCase());
    this.#names = names;
    // Short values would scrub innocent text; real credentials are longer.
    this.#values = values.filter((v) => v.length >= 4);
  }

  /**
   * A redactor that also scrubs the literal values of secret query parameters and body fields of this
   * request (so an echoing server cannot leak them through `toJSON().data`).
   *
   * @param url - the request URL
   * @param body - the body as passed by the caller
   */
  withRequestValues(url: string, body: unknown): Redactor {
    const found: string[] = [];
    const q = url.indexOf('?');
    if (q !== -1) {
      for (const [k, v] of new URLSearchParams(url.slice(q + 1))) {
        if (this.isSecret(k)) found.push(v, encodeURIComponent(v));
      }
    }
    if (body instanceof URLSearchParams) {
      for (const [k, v] of body) if (this.isSecret(k)) found.push(v, encodeURIComponent(v));
    } else if (body !== null && typeof body === 'object' && !(body instanceof Uint8Array)) {
      this.#collect(body, found, 0);
    }
    if (found.length === 0) return this;
    return new Redactor([...this.#names], [...this.#values, ...found]);
  }

  #collect(value: object, out: string[], depth: number): void {
    if (depth > 20) return;
    for (const [k, v] of Object.entries(value)) {
      if (this.isSecret(k) && (typeof v === 'string' || typeof v === 'number')) out.push(String(v));
      else if (v !== null && typeof v === 'object') this.#collect(v as object, out, depth + 1);
    }
  }

  /**
   * Is `name` (header, body field or query key) secret?
   *
   * @param name - any case
   */
  isSecret(name: string): boolean {
    return this.#names.has(name.toLowerCase());
  }

  /**
   * Copy of `headers` with secret values replaced.
   *
   * @param headers - header map
   */
  headers(headers: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of Object.keys(headers)) {
      out[k] = this.isSecret(k) ? REDACTED : this.text(headers[k] ?? '');
    }
    return out;
  }

  /**
   * URL with secret query values and userinfo password replaced.
   *
   * @param url - absolute URL
   */
  url(url: string): string {
    let out = url;
    const q = out.indexOf('?');
    if (q !== -1) {
      const params = out.slice(q + 1).split('&');
      for (let i = 0; i < params.length; i++) {
        const p = params[i] ?? '';
        const eq = p.indexOf('=');
        const key = eq === -1 ? p : p.slice(0, eq);
        let decoded = key;
        try {
          decoded = decodeURIComponent(key);
        } catch {
          // keep the raw key
        }
        if (eq !== -1 && this.isSecret(decoded)) params[i] = `${key}=${REDACTED}`;
      }
      out = `${out.slice(0, q)}?${params.join('&')}`;
    }
    out = out.replace(/^(\w+:\/\/[^/:@]*):[^/@]*@/, `$1:${REDACTED}@`);
    return this.text(out);
  }

  /**
   * Deep copy of a JSON-like value with secret fields replaced.
   *
   * @param value - body or data
   * @param depth - recursion guard
   */
  value(value: unknown, depth: number = 0): unknown {
    if (typeof value === 'string') return this.text(value);
    if (value === null || typeof value !== 'object' || depth > 20) return value;
    if (Array.isArray(value)) return value.map((v) => this.value(v, depth + 1));
    if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = this.isSecret(k) ? REDACTED : this.value(v, depth + 1);
    }
    return out;
  }

  /**
   * Free text with literal secret values replaced.
   *
   * @param text - message, header value, URL
   */
  text(text: string): string {
    let out = text;
    for (const v of this.#values) {
      if (out.includes(v)) out = out.split(v).join(REDACTED);
    }
    return out;
  }
}
