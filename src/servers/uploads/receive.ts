import type { IncomingMessage, ServerResponse } from 'node:http';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type BusboyFactory from 'busboy';
import { loadNow, nodeCrypto } from '../../load.js';
import { HttpError } from '../errors.js';
import { FORBIDDEN_KEYS } from '../pipeline/index.js';
import { UploadError } from './errors.js';
import { typeAllowed, type ResolvedUploadConfig } from './options.js';
import { SNIFF_BYTES, contentMatches } from './sniff.js';

/** One file of an upload, streamed to a temp file; the temp file is removed when the handler settles unless moved. */
export interface UploadedFile {
  /** The form field the file came in. */
  readonly field: string;
  /** The client's file name (its last path segment only), or `''` when it sent none. */
  readonly name: string;
  /** The declared MIME type (lower case), checked against `upload.types` and the file's first bytes. */
  readonly type: string;
  /** Size in bytes. */
  readonly size: number;
  /** The temp file under `dataDir`: read it, or move it (`fs.rename`) to keep it past the handler. */
  readonly path: string;
}

/** The non-file fields and the files of a received upload. */
export interface ReceivedUpload {
  fields: Record<string, unknown>;
  files: UploadedFile[];
}

/** Receives one endpoint's uploads: made at registration, so busboy loads only for routes that declare `upload`. */
export interface UploadReceiver {
  receive(req: IncomingMessage, res: ServerResponse): Promise<ReceivedUpload>;
}

interface FileEntry {
  field: string;
  name: string;
  type: string;
  size: number;
  path: string;
}

/** Where a portal's upload temp files live. */
export function uploadDir(dataDir: string): string {
  return path.join(dataDir, 'tmp-uploads');
}

/** Remove the temp files of an upload (those moved away are gone already). */
export async function removeUploadedFiles(files: readonly UploadedFile[]): Promise<void> {
  await Promise.all(files.map((f) => rm(f.path, { force: true }).catch(() => undefined)));
}

function cleanName(filename: string | undefined): string {
  if (!filename) return '';
  const base = filename.split(/[/\\]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  return base.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 255);
}

/** Bytes a file's write stream buffers before the parser pauses. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

const MULTIPART = /^multipart\/form-data\s*;/i;

/**
 * Make the receiver of one endpoint's uploads: `multipart/form-data` parsed by busboy, each file written to its own
 * temp file under `dir` as it arrives (backpressure from the disk reaches the socket), checked against the limits
 * and types as bytes arrive. On any refusal or an aborted body, the files written so far are removed before the
 * promise rejects, and the connection is not kept alive (the rest of the body is never read).
 */
export function uploadReceiver(config: ResolvedUploadConfig, dir: string): UploadReceiver {
  const busboy = loadNow<typeof BusboyFactory>('busboy');
  let ready: Promise<unknown> | undefined;
  // Fields and files beyond the limits are refused before their bytes are read: the body's upper bound.
  const maxBody =
    config.maxTotalBytes + config.maxFields * (config.maxFieldBytes + 1024) + (config.maxFiles + 1) * 1024;
  return {
    receive: async (req, res) => {
      const headers = req.headers;
      if (!MULTIPART.test(headers['content-type'] ?? ''))
        throw new HttpError(415, 'Send the body as multipart/form-data', { code: 'ERR_UNSUPPORTED_MEDIA_TYPE' });
      const encoding = headers['content-encoding'];
      if (encoding !== undefined && encoding !== 'identity')
        throw new HttpError(415, `Content-Encoding ${encoding} is not supported`, { code: 'ERR_UNSUPPORTED_ENCODING' });
      const length = headers['content-length'];
      if (length !== undefined && Number(length) > maxBody) {
        res.shouldKeepAlive = false;
        throw new UploadError(`The upload exceeds the limit of ${config.maxTotalBytes} bytes`, {
          code: 'ERR_UPLOAD_TOO_LARGE',
        });
      }
      // Until a listener is attached the request stays paused, so nothing is lost while the folder is made.
      ready ??= mkdir(dir, { recursive: true, mode: 0o700 });
      await ready;
      return receive(req, res, config, dir, busboy);
    },
  };
}

function receive(
  req: IncomingMessage,
  res: ServerResponse,
  config: ResolvedUploadConfig,
  dir: string,
  busboy: typeof BusboyFactory,
): Promise<ReceivedUpload> {
  return new Promise<ReceivedUpload>((resolve, reject) => {
    const fields = Object.create(null) as Record<string, unknown>;
    const files: FileEntry[] = [];
    const writers = new Set<WriteStream>();
    let total = 0;
    let parsed = false;
    let settled = false;
    let failed = false;

    const fail = (err: Error): void => {
      if (failed || settled) return;
      failed = true;
      res.shouldKeepAlive = false;
      req.unpipe(parser);
      req.pause();
      req.off('aborted', onAborted);
      req.off('close', onClose);
      res.off('close', onClose);
      const closing = [...writers].map(
        (w) =>
          new Promise<void>((done) => {
            if (w.closed) return done();
            w.once('close', () => done());
            w.destroy();
          }),
      );
      void Promise.all(closing)
        .then(() => removeUploadedFiles(files))
        .then(() => {
          settled = true;
          reject(err);
        });
    };
    const maybeDone = (): void => {
      if (failed || settled || !parsed || writers.size > 0) return;
      settled = true;
      req.off('aborted', onAborted);
      req.off('close', onClose);
      res.off('close', onClose);
      resolve({ fields, files });
    };
    const tooLarge = (what: string, limit: number): UploadError =>
      new UploadError(`${what} exceeds the limit of ${limit} bytes`, { code: 'ERR_UPLOAD_TOO_LARGE' });
    const onAborted = (): void =>
      fail(new HttpError(400, 'The client aborted the request', { code: 'ERR_BODY_ABORTED' }));
    // The request may never say it was aborted once its response went out (a 408 from the body timer, say):
    // the response closing before the upload settled ends it too.
    const onClose = (): void => {
      if (!req.complete || res.writableEnded || res.destroyed) onAborted();
    };

    let parser: ReturnType<typeof BusboyFactory>;
    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: {
          fileSize: config.maxFileBytes,
          files: config.maxFiles,
          fields: config.maxFields,
          fieldSize: config.maxFieldBytes,
          parts: config.maxFiles + config.maxFields,
        },
      });
    } catch (err) {
      reject(
        new UploadError('The multipart body cannot be read (missing boundary?)', {
          code: 'ERR_UPLOAD_MALFORMED',
          cause: err,
        }),
      );
      return;
    }

    parser.on('field', (name, value, info) => {
      if (failed) return;
      if (info.valueTruncated || info.nameTruncated) {
        fail(tooLarge(`Field ${name.slice(0, 64)}`, config.maxFieldBytes));
        return;
      }
      if (FORBIDDEN_KEYS.has(name)) return;
      const prev = fields[name];
      if (prev === undefined) fields[name] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else fields[name] = [prev, value];
    });

    parser.on('file', (field, stream, info) => {
      if (failed) {
        stream.resume();
        return;
      }
      const declared = (info.mimeType || 'application/octet-stream').toLowerCase();
      if (!typeAllowed(config.types, declared)) {
        stream.resume();
        fail(new UploadError(`Files of type ${declared} are not accepted here`, { code: 'ERR_UPLOAD_TYPE' }));
        return;
      }
      const entry: FileEntry = {
        field,
        name: cleanName(info.filename),
        type: declared,
        size: 0,
        path: path.join(dir, nodeCrypto().randomUUID()),
      };
      files.push(entry);
      // A deeper buffer than the default lets the parser run on while a write is at the disk; queued chunks go
      // out in one writev. Memory stays bounded by it per file being written.
      const out = createWriteStream(entry.path, { flags: 'wx', mode: 0o600, highWaterMark: WRITE_BUFFER_BYTES });
      writers.add(out);
      let head: Buffer | undefined;
      let checked = false;
      const check = (): boolean => {
        checked = true;
        if (contentMatches(declared, head ?? Buffer.alloc(0))) return true;
        fail(
          new UploadError(`The content of ${entry.name || field} does not match its declared type ${declared}`, {
            code: 'ERR_UPLOAD_TYPE',
          }),
        );
        return false;
      };
      stream.on('limit', () => fail(tooLarge(`File ${entry.name || field}`, config.maxFileBytes)));
      stream.on('data', (chunk: Buffer) => {
        if (failed) return;
        entry.size += chunk.length;
        total += chunk.length;
        if (total > config.maxTotalBytes) {
          fail(tooLarge('The upload', config.maxTotalBytes));
          return;
        }
        if (!checked) {
          head = head === undefined ? chunk : Buffer.concat([head, chunk]);
          if (head.length >= SNIFF_BYTES && !check()) return;
        }
        if (!out.write(chunk)) {
          stream.pause();
          out.once('drain', () => stream.resume());
        }
      });
      stream.on('end', () => {
        if (failed) return;
        if (!checked && !check()) return;
        out.end();
      });
      out.on('error', (err) => fail(new HttpError(500, 'The upload could not be stored', { cause: err })));
      out.on('close', () => {
        writers.delete(out);
        maybeDone();
      });
    });
    parser.on('filesLimit', () =>
      fail(new UploadError(`At most ${config.maxFiles} files are accepted`, { code: 'ERR_UPLOAD_TOO_MANY' })),
    );
    parser.on('fieldsLimit', () =>
      fail(new UploadError(`At most ${config.maxFields} fields are accepted`, { code: 'ERR_UPLOAD_TOO_MANY' })),
    );
    parser.on('partsLimit', () =>
      fail(new UploadError('The upload has too many parts', { code: 'ERR_UPLOAD_TOO_MANY' })),
    );
    parser.on('error', (err: unknown) =>
      fail(
        !req.complete && req.destroyed
          ? new HttpError(400, 'The client aborted the request', { code: 'ERR_BODY_ABORTED', cause: err })
          : new UploadError('The multipart body is malformed', { code: 'ERR_UPLOAD_MALFORMED', cause: err }),
      ),
    );
    parser.on('close', () => {
      parsed = true;
      maybeDone();
    });
    req.on('aborted', onAborted);
    req.on('close', onClose);
    res.on('close', onClose);
    req.pipe(parser);
  });
}
