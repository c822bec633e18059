import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';
import { FORBIDDEN_KEYS, parseJsonSafe } from './pipeline/index.js';

export { parseJsonSafe };

/** Copy a parsed query or form object into a null-prototype object without forbidden keys. */
export function sanitizeRecord(source: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key in source) {
    if (!FORBIDDEN_KEYS.has(key) && Object.prototype.hasOwnProperty.call(source, key)) out[key] = source[key];
  }
  return out;
}

/** Content types the body reader understands. */
export type BodyKind = 'json' | 'form';

function kindOf(contentType: string): BodyKind | undefined {
  const semi = contentType.indexOf(';');
  const mime = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'))) return 'json';
  if (mime === 'application/x-www-form-urlencoded') return 'form';
  return undefined;
}

/**
 * Read and parse a request body with a byte limit. Resolves to `undefined` when there is no body.
 * Rejects with a 413 as soon as the limit is passed (from `Content-Length` or while streaming), 415 for a
 * content type other than JSON or form, 400 for malformed JSON or an unsupported content encoding.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const headers = req.headers;
  const lengthHeader = headers['content-length'];
  const chunked = headers['transfer-encoding'] !== undefined;
  if (!chunked && (lengthHeader === undefined || lengthHeader === '0')) {
    return Promise.resolve(undefined);
  }
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    return Promise.reject(
      new HttpError(415, `Content-Encoding ${encoding} is not supported`, { code: 'ERR_UNSUPPORTED_ENCODING' }),
    );
  }
  const kind = kindOf(headers['content-type'] ?? '');
  if (kind === undefined) {
    return Promise.reject(
      new HttpError(415, 'Send the body as application/json or application/x-www-form-urlencoded', {
        code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
      }),
    );
  }
  if (lengthHeader !== undefined && Number(lengthHeader) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: unknown, value?: unknown): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        // Stop buffering; the response closes the connection so the client stops sending.
        req.pause();
        finish(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (buf.length === 0) return finish(null, undefined);
      try {
        finish(null, kind === 'json' ? parseJsonSafe(buf.toString('utf8')) : parseForm(buf.toString('utf8')));
      } catch (err) {
        finish(
          err instanceof HttpError
            ? err
            : new HttpError(400, 'The request body is not valid JSON', { code: 'ERR_MALFORMED_JSON', cause: err }),
        );
      }
    };
    const onError = (err: Error): void =>
      finish(new HttpError(400, 'The request body could not be read', { code: 'ERR_BODY_READ', cause: err }));
    const onAborted = (): void =>
      finish(new HttpError(400, 'The client aborted the request', { code: 'ERR_BODY_ABORTED' }));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `The request body exceeds the limit of ${limit} bytes`, { code: 'ERR_BODY_TOO_LARGE' });
}

function parseForm(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of new URLSearchParams(text)) {
    if (FORBIDDEN_KEYS.has(key)) continue;
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[key] = [prev, value];
  }
  return out;
}

/** Whether a record has any own enumerable key (without allocating a key list). */
export function hasKeys(record: Record<string, unknown>): boolean {
  for (const _ in record) return true;
  return false;
}

/** Merge a parsed body over params and query: an object body's keys win; any other body stands alone. */
export function mergeBody(base: Record<string, unknown>, body: unknown): unknown {
  if (body === undefined) return base;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    for (const key of Object.keys(body))
      if (!FORBIDDEN_KEYS.has(key)) base[key] = (body as Record<string, unknown>)[key];
    return base;
  }
  if (hasKeys(base)) {
    throw new HttpError(400, 'The request body must be a JSON object when the route has path or query parameters', {
      code: 'ERR_BODY_NOT_OBJECT',
    });
  }
  return body;
}
