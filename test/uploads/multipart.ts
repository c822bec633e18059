import http from 'node:http';
import { randomBytes } from 'node:crypto';

/** One part of a multipart body: a field, or a file whose bytes come from `chunks()` (never one big buffer). */
export type Part =
  { name: string; value: string } | { name: string; filename: string; type: string; head?: Buffer; size: number };

export const PNG_HEAD = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
]);
export const PDF_HEAD = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1');

const CHUNK = 64 * 1024;
const filler = randomBytes(CHUNK);

/** The body of `parts` as a sequence of chunks, and its total length. */
export function multipart(
  parts: Part[],
  boundary = `----gatehouse${randomBytes(8).toString('hex')}`,
): {
  contentType: string;
  length: number;
  chunks: () => Generator<Buffer>;
} {
  const heads = parts.map((p) =>
    Buffer.from(
      'value' in p
        ? `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"\r\n\r\n${p.value}\r\n`
        : `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: ${p.type}\r\n\r\n`,
    ),
  );
  const tail = Buffer.from(`--${boundary}--\r\n`);
  let length = tail.length;
  parts.forEach((p, i) => {
    length += heads[i]!.length + ('value' in p ? 0 : p.size + 2);
  });
  function* chunks(): Generator<Buffer> {
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      yield heads[i]!;
      if ('value' in p) continue;
      let left = p.size;
      if (p.head) {
        const h = p.head.subarray(0, left);
        yield h;
        left -= h.length;
      }
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        yield n === CHUNK ? filler : filler.subarray(0, n);
        left -= n;
      }
      yield Buffer.from('\r\n');
    }
    yield tail;
  }
  return { contentType: `multipart/form-data; boundary=${boundary}`, length, chunks };
}

/** The answer of an upload request. */
export interface UploadAnswer {
  status: number;
  body: string;
  json(): Record<string, unknown>;
}

/**
 * POST `parts` to `url` over a real socket, written chunk by chunk with backpressure. `abortAfter` destroys the
 * request after that many bytes (an upload aborted mid-way: resolves with status 0); `stallAfter` stops writing.
 */
export function upload(
  url: string,
  parts: Part[],
  options: { headers?: Record<string, string>; abortAfter?: number; stallAfter?: number } = {},
): Promise<UploadAnswer> {
  const body = multipart(parts);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': body.contentType, 'content-length': String(body.length), ...options.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    let aborted = false;
    req.on('error', (err) =>
      aborted || options.stallAfter !== undefined ? resolve({ status: 0, body: '', json: () => ({}) }) : reject(err),
    );
    const it = body.chunks();
    let written = 0;
    const pump = (): void => {
      for (;;) {
        if (options.abortAfter !== undefined && written >= options.abortAfter) {
          aborted = true;
          req.destroy();
          resolve({ status: 0, body: '', json: () => ({}) });
          return;
        }
        if (options.stallAfter !== undefined && written >= options.stallAfter) return;
        const next = it.next();
        if (next.done) {
          req.end();
          return;
        }
        written += next.value.length;
        if (!req.write(next.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}
