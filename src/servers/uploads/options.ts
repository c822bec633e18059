import { optionChecks, withDefaults } from '../../options.js';
import { parseBytes } from '../bytes.js';
import { UploadError } from './errors.js';

/**
 * An endpoint's `upload` option: the route takes `multipart/form-data`, its files streamed to temp files under the
 * portal's `dataDir` (never held whole in memory), its other fields validated by `input`. Every field is optional.
 *
 * @example
 * ```ts
 * portal.endpoint('/api/files', { description: 'Upload', input: z.object({ title: z.string() }),
 *   upload: { maxFileBytes: '50mb', maxFiles: 5, types: ['image/png', 'application/pdf'] } },
 *   ({ files }) => files.map((f) => ({ name: f.name, size: f.size })));
 * ```
 */
export interface UploadConfig {
  /** Largest accepted file, in bytes or a size like `'50mb'`; more is 413 `ERR_UPLOAD_TOO_LARGE`. @defaultValue '10mb' */
  maxFileBytes?: number | string;
  /** Largest accepted sum of all files, in bytes or a size; more is 413 `ERR_UPLOAD_TOO_LARGE`. @defaultValue maxFileBytes × maxFiles */
  maxTotalBytes?: number | string;
  /** Most files in one request; more is 413 `ERR_UPLOAD_TOO_MANY`. @defaultValue 1 */
  maxFiles?: number;
  /** Most non-file fields in one request; more is 413 `ERR_UPLOAD_TOO_MANY`. @defaultValue 100 */
  maxFields?: number;
  /** Largest non-file field value, in bytes or a size; more is 413 `ERR_UPLOAD_TOO_LARGE`. @defaultValue '64kb' */
  maxFieldBytes?: number | string;
  /**
   * Accepted MIME types (exact, or `'image/*'`). A file's declared type must be one of them, and its first bytes
   * must not say it is another known type (PNG, JPEG, GIF, WebP, PDF, ZIP, gzip; text types must not look binary),
   * else 415 `ERR_UPLOAD_TYPE`. @defaultValue any type (the sniffing check still applies)
   */
  types?: readonly string[];
}

/** An upload option with its defaults applied and its values checked. */
export interface ResolvedUploadConfig {
  maxFileBytes: number;
  maxTotalBytes: number;
  maxFiles: number;
  maxFields: number;
  maxFieldBytes: number;
  /** Lower-case types; `undefined` accepts any. */
  types: readonly string[] | undefined;
}

const DEFAULTS = {
  maxFileBytes: '10mb',
  maxFiles: 1,
  maxFields: 100,
  maxFieldBytes: '64kb',
} satisfies UploadConfig;

/** Apply the defaults of an endpoint's `upload` option and refuse bad values with `ERR_UPLOAD_OPTIONS`. */
export function resolveUploadConfig(route: string, config: UploadConfig): ResolvedUploadConfig {
  const check = optionChecks(
    `endpoint ${route}: upload`,
    (message) => new UploadError(message, { code: 'ERR_UPLOAD_OPTIONS' }),
  );
  check.object('upload', config);
  const o = withDefaults(DEFAULTS, config);
  const bytes = (name: string, value: unknown): number => {
    const n = typeof value === 'string' || typeof value === 'number' ? parseBytes(value) : undefined;
    if (n === undefined || !Number.isSafeInteger(n) || n < 1)
      return check.fail(name, 'a byte count ≥ 1 or a size like "10mb"', value);
    return n;
  };
  const maxFileBytes = bytes('maxFileBytes', o.maxFileBytes);
  const maxFiles = check.int('maxFiles', o.maxFiles, { min: 1, max: 1000 });
  const maxTotalBytes =
    config.maxTotalBytes === undefined ? maxFileBytes * maxFiles : bytes('maxTotalBytes', config.maxTotalBytes);
  let types: string[] | undefined;
  if (config.types !== undefined) {
    if (!Array.isArray(config.types) || config.types.length === 0)
      check.fail('types', 'a non-empty list of MIME types', config.types);
    types = (config.types as readonly unknown[]).map((t) => {
      if (typeof t !== 'string' || !/^[a-z0-9!#$&^_.+-]+\/(\*|[a-z0-9!#$&^_.+-]+)$/i.test(t))
        return check.fail('types', 'MIME types like "image/png" or "image/*"', t);
      return t.toLowerCase();
    });
  }
  return {
    maxFileBytes,
    maxTotalBytes,
    maxFiles,
    maxFields: check.int('maxFields', o.maxFields, { min: 0, max: 10_000 }),
    maxFieldBytes: bytes('maxFieldBytes', o.maxFieldBytes),
    types,
  };
}

/** Whether a declared type is allowed by the list (`undefined`: any). */
export function typeAllowed(types: readonly string[] | undefined, type: string): boolean {
  if (types === undefined) return true;
  for (const t of types) {
    if (t === type) return true;
    if (t.endsWith('/*') && type.startsWith(t.slice(0, -1))) return true;
  }
  return false;
}
